package emulator

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alicloud-vault/vault-plugin-secrets-alicloud/internal/atomicfile"
)

// Validity of the generated CA and of the server certificates it issues. The
// CA outlives its leaves so that a CA persisted with -ca-cert/-ca-key keeps
// signing for a long time; leaves are reissued whenever the process restarts.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 397 * 24 * time.Hour
	// maxIssuedLeaves bounds the per-host certificate cache so that a client
	// sending many distinct SNI names cannot grow memory without limit.
	maxIssuedLeaves = 1024
)

// defaultCertNames are the names on the server certificate used when a client
// sends no SNI name or a name that the wildcard already covers.
var defaultCertNames = []string{"*.aliyuncs.com", "aliyuncs.com", "localhost", "127.0.0.1", "::1"}

// CA is the emulator's own certificate authority. It signs the server
// certificates of the HTTPS listener and of the proxy's TLS termination, so a
// client that trusts the CA (SSL_CERT_FILE on Linux) talks to the emulator as
// if it were *.aliyuncs.com. Safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certDER []byte
	key     *ecdsa.PrivateKey

	mu      sync.Mutex
	def     *tls.Certificate            // for *.aliyuncs.com, aliyuncs.com, localhost, 127.0.0.1
	byHost  map[string]*tls.Certificate // for deeper names such as sts.cn-hangzhou.aliyuncs.com
	nowFunc func() time.Time
}

// NewCA generates a fresh ECDSA P-256 certificate authority that exists only
// in memory until written out with WritePEM and WriteKeyPEM.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "alicloud-emulator local CA " + serial.Text(16)[:8],
			Organization: []string{"alicloud-emulator (development only)"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return newCA(der, key)
}

// LoadCA reads a CA certificate and its private key (PEM; the key as PKCS#8,
// SEC 1 "EC PRIVATE KEY" or any crypto.Signer PKCS#8 holds an ECDSA key for).
// It lets a restarted emulator keep the CA that clients already trust.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	return ParseCA(certPEM, keyPEM)
}

// ParseCA is LoadCA for PEM bytes already in memory.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("CA key: no PEM block")
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA key: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("CA key: %T is not an ECDSA key", k)
		}
		key = ek
	default:
		return nil, fmt.Errorf("CA key: unsupported PEM block %q", kb.Type)
	}
	return newCA(cb.Bytes, key)
}

func newCA(der []byte, key *ecdsa.PrivateKey) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("CA certificate: not a CA (basic constraints)")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &CA{cert: cert, certDER: der, key: key, byHost: map[string]*tls.Certificate{}, nowFunc: time.Now}, nil
}

// Certificate returns the CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// CertPEM returns the CA certificate in PEM form, the content of an
// SSL_CERT_FILE that makes a client trust the emulator.
func (c *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.certDER})
}

// KeyPEM returns the CA private key as a PKCS#8 PEM block.
func (c *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, fmt.Errorf("marshal CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WritePEM writes the CA certificate to path (mode 0644; it is public).
func (c *CA) WritePEM(path string) error {
	return atomicfile.Write(path, c.CertPEM(), 0o644)
}

// WriteKeyPEM writes the CA private key to path with mode 0600.
func (c *CA) WriteKeyPEM(path string) error {
	b, err := c.KeyPEM()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}

// CertPool returns a pool holding only this CA, for Go clients in tests.
func (c *CA) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// ClientTLSConfig returns a client configuration trusting only this CA.
func (c *CA) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: c.CertPool(), MinVersion: tls.VersionTLS12}
}

// TLSConfig returns a server configuration whose certificates are issued by
// this CA on demand: one certificate for *.aliyuncs.com, aliyuncs.com,
// localhost and the loopback addresses, and one per deeper name such as
// sts.cn-hangzhou.aliyuncs.com, which a single-label wildcard cannot cover.
// Only HTTP/1.1 is offered.
func (c *CA) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: c.getCertificate,
	}
}

func (c *CA) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.certificateFor(hello.ServerName)
}

// certificateFor returns the leaf certificate to present for an SNI name.
func (c *CA) certificateFor(serverName string) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.nowFunc()
	if !needsOwnCert(name) {
		if c.def == nil || c.def.Leaf.NotAfter.Before(now.Add(time.Hour)) {
			leaf, err := c.issue(defaultCertNames, now)
			if err != nil {
				return nil, err
			}
			c.def = leaf
		}
		return c.def, nil
	}
	if leaf := c.byHost[name]; leaf != nil && leaf.Leaf.NotAfter.After(now.Add(time.Hour)) {
		return leaf, nil
	}
	leaf, err := c.issue([]string{name}, now)
	if err != nil {
		return nil, err
	}
	if len(c.byHost) >= maxIssuedLeaves {
		clear(c.byHost)
	}
	c.byHost[name] = leaf
	return leaf, nil
}

// needsOwnCert reports whether name is an aliyuncs.com host that the default
// certificate's single-label wildcard does not cover. Other names (none, an IP
// address, localhost, a foreign host) get the default certificate: the proxy
// never terminates TLS for foreign hosts, and a direct client of the HTTPS
// listener addresses it by loopback name or IP.
func needsOwnCert(name string) bool {
	if !strings.HasSuffix(name, ".aliyuncs.com") {
		return false
	}
	label := strings.TrimSuffix(name, ".aliyuncs.com")
	return strings.Contains(label, ".") && validDNSName(name)
}

func validDNSName(name string) bool {
	if len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

// issue signs a server certificate for names (DNS names or IP addresses).
func (c *CA) issue(names []string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: names[0], Organization: []string{"alicloud-emulator (development only)"}},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(leafValidity),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: c.cert.SubjectKeyId,
	}
	if tmpl.NotAfter.After(c.cert.NotAfter) {
		tmpl.NotAfter = c.cert.NotAfter
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse server certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, c.certDER}, PrivateKey: crypto.Signer(key), Leaf: leaf}, nil
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}
