package emulator

// ECS 2014-05-26 DescribeRegions: a read-only workload that permissions can be
// tested on (ecs:DescribeRegions on acs:ecs:*:<account>:*).

type ecsRegion struct {
	id, zh, en string
}

var ecsRegions = []ecsRegion{
	{"cn-qingdao", "华北1（青岛）", "China (Qingdao)"},
	{"cn-beijing", "华北2（北京）", "China (Beijing)"},
	{"cn-zhangjiakou", "华北3（张家口）", "China (Zhangjiakou)"},
	{"cn-hangzhou", "华东1（杭州）", "China (Hangzhou)"},
	{"cn-shanghai", "华东2（上海）", "China (Shanghai)"},
	{"cn-shenzhen", "华南1（深圳）", "China (Shenzhen)"},
	{"cn-hongkong", "中国香港", "China (Hong Kong)"},
	{"ap-southeast-1", "新加坡", "Singapore"},
	{"ap-northeast-1", "日本（东京）", "Japan (Tokyo)"},
	{"us-west-1", "美国（硅谷）", "US (Silicon Valley)"},
	{"us-east-1", "美国（弗吉尼亚）", "US (Virginia)"},
	{"eu-central-1", "德国（法兰克福）", "Germany (Frankfurt)"},
	{"eu-west-1", "英国（伦敦）", "UK (London)"},
}

func (e *Emulator) ecsDescribeRegions(q *rpcRequest) (map[string]any, *APIError) {
	e.mu.RLock()
	resource := "acs:ecs:*:" + e.st.AccountID + ":*"
	e.mu.RUnlock()
	if aerr := e.authorize(q, "ecs:DescribeRegions", resource); aerr != nil {
		return nil, aerr
	}
	english := q.param("AcceptLanguage") == "en-US"
	items := make([]map[string]any, 0, len(ecsRegions))
	for _, r := range ecsRegions {
		name := r.zh
		if english {
			name = r.en
		}
		items = append(items, map[string]any{
			"RegionId":       r.id,
			"LocalName":      name,
			"RegionEndpoint": "ecs." + r.id + ".aliyuncs.com",
			"Status":         "available",
		})
	}
	return map[string]any{"Regions": listEnvelope("Region", items)}, nil
}
