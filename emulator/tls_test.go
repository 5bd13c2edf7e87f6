package emulator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCAWriteAndLoad(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if err := ca.WritePEM(certPath); err != nil {
		t.Fatal(err)
	}
	if err := ca.WriteKeyPEM(keyPath); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", st.Mode().Perm())
	}
	certPEM, _ := os.ReadFile(certPath)
	if !bytes.Equal(certPEM, ca.CertPEM()) {
		t.Error("written certificate differs from CertPEM")
	}
	if !ca.Certificate().IsCA {
		t.Error("generated certificate is not a CA")
	}
	if _, ok := ca.Certificate().PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("CA key type = %T, want ECDSA", ca.Certificate().PublicKey)
	}

	loaded, err := LoadCA(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Certificate().Equal(ca.Certificate()) {
		t.Error("loaded CA differs from the written one")
	}
	// A leaf from the loaded CA verifies against the original CA's pool.
	leaf, err := loaded.certificateFor("sts.aliyuncs.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.CertPool(), DNSName: "sts.aliyuncs.com"}); err != nil {
		t.Errorf("leaf of loaded CA does not verify: %v", err)
	}
}

func TestParseCARefusals(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := other.KeyPEM()
	key, _ := ca.KeyPEM()

	// A self-signed certificate that is not a CA.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, _ := x509.MarshalECPrivateKey(k)
	leafKey := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})

	tests := []struct {
		name     string
		cert     []byte
		key      []byte
		wantText string
	}{
		{"mismatched key", ca.CertPEM(), otherKey, "does not match"},
		{"not a CA", leafPEM, leafKey, "not a CA"},
		{"garbage certificate", []byte("nope"), key, "no PEM CERTIFICATE"},
		{"garbage key", ca.CertPEM(), []byte("nope"), "no PEM block"},
		{"wrong key block", ca.CertPEM(), ca.CertPEM(), "unsupported PEM block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCA(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("ParseCA error = %v, want it to mention %q", err, tc.wantText)
			}
		})
	}
	// The SEC 1 form of a real CA key is accepted too.
	ecKey, _ := x509.MarshalECPrivateKey(ca.key)
	if _, err := ParseCA(ca.CertPEM(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecKey})); err != nil {
		t.Errorf("SEC 1 key refused: %v", err)
	}
}

func TestCAServesNames(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ca.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()

	tests := []struct {
		serverName string
		wantOK     bool
		wantNames  []string // DNS names on the presented certificate
	}{
		{"sts.aliyuncs.com", true, []string{"*.aliyuncs.com", "aliyuncs.com", "localhost"}},
		{"ram.aliyuncs.com", true, []string{"*.aliyuncs.com", "aliyuncs.com", "localhost"}},
		{"aliyuncs.com", true, []string{"*.aliyuncs.com", "aliyuncs.com", "localhost"}},
		{"localhost", true, []string{"*.aliyuncs.com", "aliyuncs.com", "localhost"}},
		{"sts.cn-hangzhou.aliyuncs.com", true, []string{"sts.cn-hangzhou.aliyuncs.com"}},
		{"sts-vpc.cn-shanghai.aliyuncs.com", true, []string{"sts-vpc.cn-shanghai.aliyuncs.com"}},
		{"example.com", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.serverName, func(t *testing.T) {
			cfg := ca.ClientTLSConfig()
			cfg.ServerName = tc.serverName
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if !tc.wantOK {
				if err == nil {
					c.Close()
					t.Fatal("handshake for a foreign name succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := c.ConnectionState().PeerCertificates[0].DNSNames
			if !slices.Equal(got, tc.wantNames) {
				t.Errorf("DNS names = %v, want %v", got, tc.wantNames)
			}
		})
	}

	t.Run("by IP address", func(t *testing.T) {
		cfg := ca.ClientTLSConfig()
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg) // verifies 127.0.0.1 as an IP SAN
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ips := c.ConnectionState().PeerCertificates[0].IPAddresses
		if !slices.ContainsFunc(ips, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
			t.Errorf("IP SANs = %v, want 127.0.0.1", ips)
		}
	})
}

func TestCALeafCache(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca.nowFunc = func() time.Time { return now }
	a, _ := ca.certificateFor("sts.cn-beijing.aliyuncs.com")
	b, _ := ca.certificateFor("STS.cn-beijing.aliyuncs.com.")
	if a != b {
		t.Error("the same host got two certificates")
	}
	d1, _ := ca.certificateFor("")
	d2, _ := ca.certificateFor("sts.aliyuncs.com")
	if d1 != d2 {
		t.Error("the default certificate was issued twice")
	}
	// Near the leaf's end of validity a new one is issued.
	now = a.Leaf.NotAfter.Add(-time.Minute)
	c, _ := ca.certificateFor("sts.cn-beijing.aliyuncs.com")
	if c == a {
		t.Error("an expiring leaf was reused")
	}
	if !c.Leaf.NotBefore.Before(now) || !c.Leaf.NotAfter.After(now) {
		t.Errorf("new leaf validity %v..%v does not cover %v", c.Leaf.NotBefore, c.Leaf.NotAfter, now)
	}
}

func TestNeedsOwnCert(t *testing.T) {
	tests := map[string]bool{
		"sts.aliyuncs.com":             false,
		"aliyuncs.com":                 false,
		"sts.cn-hangzhou.aliyuncs.com": true,
		"a.b.c.aliyuncs.com":           true,
		"evil.com":                     false,
		"x..aliyuncs.com":              false,
		"bad_name.x.aliyuncs.com":      false,
		"localhost":                    false,
		"":                             false,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			if got := needsOwnCert(name); got != want {
				t.Errorf("needsOwnCert(%q) = %v, want %v", name, got, want)
			}
		})
	}
}
