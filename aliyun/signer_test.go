package aliyun

import (
	"net/url"
	"testing"
)

func TestSignatureVectors(t *testing.T) {
	tests := []struct {
		name, method, secret string
		params               map[string]string
		wantSTS, want        string
	}{
		{
			name: "A official doc example", method: "GET", secret: "testsecret",
			params: map[string]string{
				"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
				"SignatureVersion": "1.0", "Timestamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
			},
			wantSTS: "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26",
			want:    "OLeaidS1JvxuMvnyHOwuJ+uX5qY=",
		},
		{
			name: "A with TimeStamp spelling", method: "GET", secret: "testsecret",
			params: map[string]string{
				"AccessKeyId": "testid", "Action": "DescribeRegions", "Format": "XML",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
				"SignatureVersion": "1.0", "TimeStamp": "2016-02-23T12:46:24Z", "Version": "2014-05-26",
			},
			want: "CT9X0VtwR86fNWSnsc6v8YGOjuE=",
		},
		{
			name: "B SDK unit test", method: "GET", secret: "accessKeySecret",
			params: map[string]string{
				"AccessKeyId": "accessKeyId", "Action": "", "Format": "JSON", "RegionId": "regionId",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "MOCK_UUID", "SignatureType": "",
				"SignatureVersion": "1.0", "Timestamp": "mock date", "Version": "",
			},
			want: "7loPmFjvDnzOVnQeQNj85S6nFGY=",
		},
		{
			name: "B SDK unit test with security token", method: "GET", secret: "accessKeySecret",
			params: map[string]string{
				"AccessKeyId": "accessKeyId", "Action": "", "Format": "JSON", "RegionId": "regionId",
				"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "MOCK_UUID", "SignatureType": "",
				"SignatureVersion": "1.0", "Timestamp": "mock date", "Version": "",
				"SecurityToken": "accessKeyStsToken",
			},
			want: "5Nxdcler+ihqWqv0Hr2On4PsBf4=",
		},
		{
			name: "C openapi-util", method: "", secret: "accessKeySecret",
			params:  map[string]string{"test": "ok"},
			wantSTS: "&%2F&test%3Dok",
			want:    "jHx/oHoHNrbVfhncHEvPdHXZwHU=",
		},
		{
			name: "E AssumeRole POST regression", method: "POST", secret: "testsecret",
			params: map[string]string{
				"Action": "AssumeRole", "Version": "2015-04-01", "Format": "JSON", "Timestamp": "2024-01-02T03:04:05Z",
				"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "0123456789abcdef0123456789abcdef",
				"AccessKeyId": "testid", "RoleArn": "acs:ram::123456789012:role/test-role", "RoleSessionName": "session-1",
				"DurationSeconds": "3600",
				"Policy":          `{"Statement": [{"Action": ["oss:Get*"],"Effect": "Allow","Resource": ["*"]}],"Version":"1"}`,
			},
			want: "O+QamGAChHgGicnLh/ZjNHizNhk=",
		},
		{
			name: "E AssumeRole POST regression with token", method: "POST", secret: "testsecret",
			params: map[string]string{
				"Action": "AssumeRole", "Version": "2015-04-01", "Format": "JSON", "Timestamp": "2024-01-02T03:04:05Z",
				"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "0123456789abcdef0123456789abcdef",
				"AccessKeyId": "testid", "RoleArn": "acs:ram::123456789012:role/test-role", "RoleSessionName": "session-1",
				"DurationSeconds": "3600", "SecurityToken": "CAIS~token+/=",
				"Policy": `{"Statement": [{"Action": ["oss:Get*"],"Effect": "Allow","Resource": ["*"]}],"Version":"1"}`,
			},
			want: "/IeD0uBrvrpe0ws/JpB0IbKlRlw=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := url.Values{}
			for k, v := range tt.params {
				params.Set(k, v)
			}
			sts := StringToSign(tt.method, params)
			if tt.wantSTS != "" && sts != tt.wantSTS {
				t.Errorf("string to sign:\n got %s\nwant %s", sts, tt.wantSTS)
			}
			if got := Sign(tt.secret, sts); got != tt.want {
				t.Errorf("signature = %s, want %s", got, tt.want)
			}
			// Signature itself is never part of the signed set.
			params.Set("Signature", "ignored")
			if got := SignParams(tt.method, params, tt.secret); got != tt.want {
				t.Errorf("with Signature param: %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHMACPrimitive(t *testing.T) {
	// Vector D checks the HMAC primitive with the raw key (Sign adds the '&').
	for _, tc := range []struct{ in, want string }{
		{"source", "Jv4yi8SobFhg5t1C7nWLbhBSFZQ="},
		{"中文", "CqCYIa39h9SSWuXnTz8F5hh9UPA="},
	} {
		if got := hmacSHA1Base64("secret", []byte(tc.in)); got != tc.want {
			t.Errorf("hmac(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b":      "a%20b",
		"*":        "%2A",
		"~":        "~",
		"+":        "%2B",
		"中":        "%E4%B8%AD",
		"A-_.z09":  "A-_.z09",
		"a=b&c/d:": "a%3Db%26c%2Fd%3A",
	} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}
