package aliyun

import (
	"net/url"
	"testing"
)

func BenchmarkSignAssumeRole(b *testing.B) {
	p := url.Values{}
	for k, v := range map[string]string{
		"Action": "AssumeRole", "Version": "2015-04-01", "Format": "JSON", "Timestamp": "2024-01-02T03:04:05Z",
		"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "0123456789abcdef0123456789abcdef",
		"AccessKeyId": "LTAI5tAbCdEfGhIjKlMnOpQr", "RoleArn": "acs:ram::123456789012:role/test-role",
		"RoleSessionName": "vault-readonly-1700000000", "DurationSeconds": "3600",
		"Policy": `{"Statement":[{"Action":["oss:Get*"],"Effect":"Allow","Resource":["*"]}],"Version":"1"}`,
	} {
		p.Set(k, v)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = SignParams("POST", p, "testsecret")
	}
}
