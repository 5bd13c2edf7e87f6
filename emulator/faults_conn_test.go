package emulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/aliyun"
)

// Faults that end the connection instead of answering: what the client sees
// and what the emulator's state holds afterwards.

// isTransportError reports whether err is the aliyun client's transport
// failure caused by a connection closed or reset without an answer.
func isTransportError(err error) bool {
	var ne *aliyun.NetworkError
	if !errors.As(err, &ne) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// newFaultServer serves a trustSeed emulator over HTTP and returns the main
// account's client and the "caller" user's client, both without retries.
func newFaultServer(t *testing.T) (e *Emulator, root, caller *aliyun.Client) {
	t.Helper()
	e, err := New(Options{Seed: trustSeed(), RandSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	id, secret := e.MainAccessKey()
	root = newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret})
	caller = newAliyunClient(t, srv.URL, aliyun.Credentials{AccessKeyID: callerKeyID, AccessKeySecret: callerSecret})
	return e, root, caller
}

func TestFaultLostAnswer(t *testing.T) {
	ctx := context.Background()
	lose := func(e *Emulator, action string) {
		e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: action, Kind: FaultLostAnswer, Count: 1}}})
	}

	t.Run("CreateUser", func(t *testing.T) {
		e, root, _ := newFaultServer(t)
		lose(e, "CreateUser")
		_, err := root.CreateUser(ctx, aliyun.CreateUserInput{UserName: "lost-user", Comments: "made by a lost call"})
		if !isTransportError(err) {
			t.Fatalf("CreateUser under lost_answer: %v (%T), want a transport error", err, err)
		}
		got, err := root.GetUser(ctx, "lost-user")
		if err != nil {
			t.Fatalf("the user was not created: %v", err)
		}
		if got.UserName != "lost-user" || got.Comments != "made by a lost call" {
			t.Fatalf("user %+v", got)
		}
		_, err = root.CreateUser(ctx, aliyun.CreateUserInput{UserName: "lost-user"})
		if aliyun.ErrorCode(err) != "EntityAlreadyExists.User" {
			t.Fatalf("retry of the create: %v, want EntityAlreadyExists.User", err)
		}
		if n := e.Counters()["ram:CreateUser"]; n != 2 {
			t.Fatalf("ram:CreateUser counter %d, want 2", n)
		}
	})

	t.Run("CreateAccessKey", func(t *testing.T) {
		e, root, _ := newFaultServer(t)
		if err := e.CreateUser("keyed"); err != nil {
			t.Fatal(err)
		}
		lose(e, "ram:CreateAccessKey")
		if _, err := root.CreateAccessKey(ctx, "keyed"); !isTransportError(err) {
			t.Fatalf("CreateAccessKey under lost_answer: %v (%T), want a transport error", err, err)
		}
		keys, err := root.ListAccessKeys(ctx, "keyed")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].Status != "Active" || keys[0].AccessKeyID == "" {
			t.Fatalf("keys after the lost answer: %+v, want one Active key", keys)
		}
		lostID := keys[0].AccessKeyID
		// A blind retry makes a second key: the lost one stays behind.
		second, err := root.CreateAccessKey(ctx, "keyed")
		if err != nil {
			t.Fatal(err)
		}
		if second.AccessKeyID == lostID {
			t.Fatal("the retry returned the lost key")
		}
		if keys, _ := root.ListAccessKeys(ctx, "keyed"); len(keys) != 2 {
			t.Fatalf("keys after the retry: %+v, want 2", keys)
		}
		view := e.Snapshot()
		var ids []string
		for _, u := range view.Users {
			if u.Name == "keyed" {
				for _, k := range u.AccessKeys {
					ids = append(ids, k.ID)
				}
			}
		}
		if len(ids) != 2 || (ids[0] != lostID && ids[1] != lostID) {
			t.Fatalf("state keys %v, want the lost %s among 2", ids, lostID)
		}
	})

	t.Run("AssumeRole", func(t *testing.T) {
		e, _, caller := newFaultServer(t)
		lose(e, "AssumeRole")
		in := aliyun.AssumeRoleInput{RoleArn: appRoleARN(), RoleSessionName: "lost-session", DurationSeconds: 900}
		if _, err := caller.AssumeRole(ctx, in); !isTransportError(err) {
			t.Fatalf("AssumeRole under lost_answer: %v (%T), want a transport error", err, err)
		}
		sessions := e.Snapshot().Sessions
		if len(sessions) != 1 || sessions[0].SessionName != "lost-session" || sessions[0].RoleName != "app" {
			t.Fatalf("sessions %+v, want the lost one", sessions)
		}
		lostID := sessions[0].AccessKeyID
		out, err := caller.AssumeRole(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.Credentials.AccessKeyID == lostID {
			t.Fatal("the retry returned the lost session")
		}
		sessions = e.Snapshot().Sessions
		if len(sessions) != 2 {
			t.Fatalf("sessions after the retry %+v, want the lost one and the new one", sessions)
		}
	})

	t.Run("refused request loses its answer too", func(t *testing.T) {
		e, root, _ := newFaultServer(t)
		lose(e, "*")
		if _, err := root.GetUser(ctx, "nobody"); !isTransportError(err) {
			t.Fatalf("GetUser under lost_answer: %v, want a transport error", err)
		}
		if _, err := root.GetUser(ctx, "nobody"); aliyun.ErrorCode(err) != "EntityNotExist.User" {
			t.Fatalf("after the rule's count: %v", err)
		}
	})

	t.Run("ECS DescribeRegions", func(t *testing.T) {
		e, root, _ := newFaultServer(t)
		lose(e, "ecs:DescribeRegions")
		req := &aliyun.Request{Product: aliyun.ECS, Version: "2014-05-26", Action: "DescribeRegions"}
		if err := root.Do(ctx, req, nil); !isTransportError(err) {
			t.Fatalf("DescribeRegions under lost_answer: %v, want a transport error", err)
		}
		var out struct {
			Regions struct{ Region []map[string]any }
		}
		if err := root.Do(ctx, req, &out); err != nil || len(out.Regions.Region) == 0 {
			t.Fatalf("DescribeRegions after the rule's count: %+v %v", out, err)
		}
		if n := e.Counters()["ecs:DescribeRegions"]; n != 2 {
			t.Fatalf("ecs:DescribeRegions counter %d, want 2", n)
		}
	})

	t.Run("credentials URI", func(t *testing.T) {
		e, _, _ := newFaultServer(t)
		srv := httptest.NewServer(e)
		defer srv.Close()
		if _, err := e.CreateRole("uri-role", `{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["ecs.aliyuncs.com"]}}]}`, 0); err != nil {
			t.Fatal(err)
		}
		e.SetCredentialsURI(CredentialsURISettings{RoleName: "uri-role"})
		lose(e, "CredentialsURI")
		client := &http.Client{Transport: &http.Transport{}}
		if resp, err := client.Get(srv.URL + "/credentials-uri"); err == nil {
			resp.Body.Close()
			t.Fatalf("lost answer got a response: %d", resp.StatusCode)
		}
		sessions := e.Snapshot().Sessions
		if len(sessions) != 1 || sessions[0].RoleName != "uri-role" {
			t.Fatalf("sessions %+v, want the one issued for the lost answer", sessions)
		}
	})
}

func TestFaultReset(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		tls  bool
	}{{"plain HTTP", false}, {"TLS", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(Options{Seed: trustSeed(), RandSeed: 7})
			if err != nil {
				t.Fatal(err)
			}
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(e)
			} else {
				srv = httptest.NewServer(e)
			}
			defer srv.Close()
			id, secret := e.MainAccessKey()
			root, err := aliyun.NewClient(aliyun.Options{
				Credentials: aliyun.StaticCredentials(aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret}),
				Endpoints:   map[aliyun.Product]string{aliyun.RAM: srv.URL},
				HTTPClient:  srv.Client(),
				MaxRetries:  -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			e.SetFaults(FaultConfig{Rules: []FaultRule{{Action: "CreateUser", Kind: FaultReset, Count: 1}}})
			_, err = root.CreateUser(ctx, aliyun.CreateUserInput{UserName: "never-made"})
			var ne *aliyun.NetworkError
			if !errors.As(err, &ne) || !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("CreateUser under reset: %v (%T), want a connection reset", err, err)
			}
			if _, err := root.GetUser(ctx, "never-made"); aliyun.ErrorCode(err) != "EntityNotExist.User" {
				t.Fatalf("GetUser after the reset: %v, want EntityNotExist.User (nothing applied)", err)
			}
			if _, err := root.CreateUser(ctx, aliyun.CreateUserInput{UserName: "never-made"}); err != nil {
				t.Fatalf("the retry: %v", err)
			}
			if n := e.Counters()["ram:CreateUser"]; n != 2 {
				t.Fatalf("ram:CreateUser counter %d, want 2", n)
			}
		})
	}
}
