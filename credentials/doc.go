// Package credentials provides Alibaba Cloud credentials from every source
// Alibaba documents for its SDKs, with a cache that is correct under
// concurrency. It has no dependency on Vault: any Go program can use it the
// way it would use the official credentials library.
//
// # Providers
//
// A Provider has one method, Retrieve(ctx), which returns Credentials: the
// AccessKey id and secret, the security token of STS credentials, a bearer
// token, the Expiration (zero for long-term keys) and the Source, the name
// of the provider that answered, nested for chains such as
// "default/profile/ram_role_arn/access_key". Printing Credentials in any way
// (fmt verbs, String, log/slog) never shows a secret, and no error of this
// package contains one.
//
//   - NewAccessKey: a long-term AccessKey.
//   - NewSTS: fixed STS credentials obtained elsewhere.
//   - NewRAMRoleARN: STS AssumeRole signed by any other provider, so roles
//     chain; generated session names, session policy, external id, duration
//     900s to 43200s, endpoint from a URL, a region or a region's VPC endpoint.
//   - NewECSRAMRole: the ECS instance RAM role from the metadata service, in
//     hardened mode (a session token first) with a fallback to plain requests
//     unless disabled, role discovery when no name is given, 1s timeouts.
//   - NewOIDCRoleARN: STS AssumeRoleWithOIDC with a token file that is read
//     again for every session (ACK RRSA rotates it).
//   - NewCredentialsURI: a URL that serves the credentials document.
//   - NewBearer: a bearer token, for the products that accept one.
//   - NewEnv, NewProfile, NewCLIProfile and NewDefaultChain: configuration
//     from the environment, the ini file ~/.alibabacloud/credentials.ini and
//     the CLI's ~/.aliyun/config.json.
//
// Constructors check their options and name the offending field in errors
// ("ram_role_arn: role_arn must look like acs:ram::<account>:role/<name>");
// they make no network call. HTTP clients, clocks and the environment are
// options, never globals.
//
// # Caching
//
// Providers keep no state between calls: each Retrieve of a session provider
// asks its service. Wrap a provider in one Cache per identity. The Cache
// returns the same credentials until less than RefreshWindow (3 minutes,
// never more than half the lifetime, plus up to Jitter) remains, then lets a
// single caller refresh while the others wait for that refresh (no refresh
// storm against STS or the metadata service). If a refresh fails while the
// cached credentials are still valid it keeps returning them and retries a
// little later; it never returns expired credentials. With Prefetch a
// background goroutine refreshes ahead of time so callers never wait.
//
// # The default chain
//
// NewDefaultChain looks at, in order: the ALIBABA_CLOUD_ACCESS_KEY_*
// variables, the OIDC variables, the ini profile, the CLI profile, the ECS
// role named by ALIBABA_CLOUD_ECS_METADATA, and ALIBABA_CLOUD_CREDENTIALS_URI.
// The first configured link answers; the chain never moves on silently from
// a configured link that fails, and it does not probe the metadata service
// unless asked to, so off ECS it answers in microseconds. When nothing is
// configured its error says why each link was skipped.
//
// To sign aliyun API calls, pass SigningFunc(cache) as aliyun.Options.Credentials.
package credentials
