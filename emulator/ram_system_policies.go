package emulator

import (
	"fmt"
	"time"
)

// systemPolicies are the predefined policies of every account, keyed by name.
// They are immutable; attachments live on the principals.
var systemPolicies = func() map[string]*policy {
	created := time.Date(2015, 4, 28, 8, 0, 0, 0, time.UTC)
	defs := []struct{ name, desc, doc string }{
		{"AdministratorAccess", "Provides full access to Alibaba Cloud services and resources.",
			`{"Statement":[{"Action":"*","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"ReadOnlyAccess", "Provides read-only access to Alibaba Cloud services and resources.",
			`{"Statement":[{"Action":["*:Describe*","*:List*","*:Get*","*:BatchGet*","*:Query*","*:BatchQuery*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunRAMFullAccess", "Provides full access to Resource Access Management (RAM).",
			`{"Statement":[{"Action":"ram:*","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunRAMReadOnlyAccess", "Provides read-only access to Resource Access Management (RAM).",
			`{"Statement":[{"Action":["ram:Get*","ram:List*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunSTSAssumeRoleAccess", "Provides access to assume RAM roles through the Security Token Service (STS).",
			`{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunECSFullAccess", "Provides full access to Elastic Compute Service (ECS).",
			`{"Statement":[{"Action":"ecs:*","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunECSReadOnlyAccess", "Provides read-only access to Elastic Compute Service (ECS).",
			`{"Statement":[{"Action":["ecs:Describe*","ecs:List*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunOSSFullAccess", "Provides full access to Object Storage Service (OSS).",
			`{"Statement":[{"Action":"oss:*","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
		{"AliyunOSSReadOnlyAccess", "Provides read-only access to Object Storage Service (OSS).",
			`{"Statement":[{"Action":["oss:Get*","oss:List*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}`},
	}
	for _, p := range []struct{ code, name, product string }{
		{"vpc", "VPC", "Virtual Private Cloud (VPC)"},
		{"slb", "SLB", "Server Load Balancer (SLB)"},
		{"rds", "RDS", "ApsaraDB RDS"},
		{"kms", "KMS", "Key Management Service (KMS)"},
		{"log", "Log", "Simple Log Service (SLS)"},
		{"cms", "CloudMonitor", "CloudMonitor"},
		{"cs", "ContainerService", "Container Service for Kubernetes (ACK)"},
		{"alidns", "DNS", "Alibaba Cloud DNS"},
	} {
		defs = append(defs,
			struct{ name, desc, doc string }{"Aliyun" + p.name + "FullAccess", "Provides full access to " + p.product + ".",
				`{"Statement":[{"Action":"` + p.code + `:*","Effect":"Allow","Resource":"*"}],"Version":"1"}`},
			struct{ name, desc, doc string }{"Aliyun" + p.name + "ReadOnlyAccess", "Provides read-only access to " + p.product + ".",
				`{"Statement":[{"Action":["` + p.code + `:Describe*","` + p.code + `:List*","` + p.code + `:Get*"],"Effect":"Allow","Resource":"*"}],"Version":"1"}`})
	}
	out := make(map[string]*policy, len(defs))
	for _, d := range defs {
		parsed, err := ParsePolicy(d.doc)
		if err != nil {
			panic(fmt.Sprintf("emulator: system policy %s: %v", d.name, err))
		}
		out[d.name] = &policy{
			Name: d.name, Type: "System", Description: d.desc,
			CreateDate: created, UpdateDate: created, DefaultVersion: "v1", NextVersion: 2,
			Versions: []*policyVersion{{ID: "v1", Document: d.doc, CreateDate: created, parsed: parsed}},
		}
	}
	return out
}()
