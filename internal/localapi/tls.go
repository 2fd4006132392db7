package localapi

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// webhookChecker dials the webhook server with the CA envtest generated.
type webhookChecker struct {
	host string
	port int
	dir  string
}

func (c *webhookChecker) check() error {
	ca, err := os.ReadFile(filepath.Join(c.dir, "tls.crt"))
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	d := &net.Dialer{Timeout: time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", net.JoinHostPort(c.host, strconv.Itoa(c.port)), &tls.Config{RootCAs: pool, ServerName: c.host})
	if err != nil {
		return err
	}
	return conn.Close()
}
