// Command uridemo is an application that has never heard of Vault: it takes
// its Alibaba Cloud credentials from Alibaba's official credentials-go,
// unmodified, configured only by ALIBABA_CLOUD_CREDENTIALS_URI, and calls
// STS GetCallerIdentity with them at ALIBABA_CLOUD_STS_ENDPOINT (the
// emulator in the end-to-end tests) until it has seen -keys different
// AccessKey IDs. It prints one line per call, with the AccessKey ID and the
// identity, never a secret.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aliyun/credentials-go/credentials"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

func main() {
	keys := flag.Int("keys", 3, "stop after this many different AccessKey IDs")
	every := flag.Duration("every", time.Second, "pause between calls")
	deadline := flag.Duration("deadline", time.Minute, "give up after this long")
	flag.Parse()
	// The credentials_uri type with no Url reads ALIBABA_CLOUD_CREDENTIALS_URI.
	cred, err := credentials.NewCredential(&credentials.Config{Type: strPtr("credentials_uri")})
	if err != nil {
		fail(err)
	}
	seen := map[string]bool{}
	stop := time.Now().Add(*deadline)
	for len(seen) < *keys {
		if time.Now().After(stop) {
			fail(fmt.Errorf("saw %d different keys in %s, want %d", len(seen), *deadline, *keys))
		}
		m, err := cred.GetCredential()
		if err != nil {
			fail(err)
		}
		// credentials-go gets the key; any signer can use it. The official
		// OpenAPI SDK is not a dependency here, so the project's own signs.
		client, err := aliyun.NewClient(aliyun.Options{
			Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: *m.AccessKeyId, AccessKeySecret: *m.AccessKeySecret, SecurityToken: *m.SecurityToken}),
			Endpoints:   map[aliyun.Product]string{aliyun.STS: os.Getenv("ALIBABA_CLOUD_STS_ENDPOINT")},
		})
		if err != nil {
			fail(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		id, err := client.GetCallerIdentity(ctx)
		cancel()
		if err != nil {
			fail(fmt.Errorf("GetCallerIdentity with %s: %w", *m.AccessKeyId, err))
		}
		if !seen[*m.AccessKeyId] {
			seen[*m.AccessKeyId] = true
			fmt.Printf("%s key=%s provider=%s identity=%s %s\n", time.Now().UTC().Format(time.RFC3339), *m.AccessKeyId, *m.ProviderName, id.IdentityType, id.Arn)
		}
		time.Sleep(*every)
	}
}

func strPtr(s string) *string { return &s }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "uridemo:", err)
	os.Exit(1)
}
