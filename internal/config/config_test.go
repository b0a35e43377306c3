package config

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultsResolve(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load with no file and no environment = %+v, want the defaults", c)
	}
	for _, addr := range []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080"} {
		t.Run(addr, func(t *testing.T) {
			r, err := c.Resolve(addr)
			if err != nil {
				t.Fatalf("defaults do not resolve on %s: %v", addr, err)
			}
			if got, want := r.PublicURL.String(), "http://localhost:8080"; got != want {
				t.Errorf("PublicURL = %s, want %s", got, want)
			}
			if r.Audience != "http://localhost:8080" {
				t.Errorf("Audience = %q, want the public URL", r.Audience)
			}
		})
	}
}

// TestResolvePublicURL: the default public URL follows the address actually
// bound (port 0 picks one), and the audience follows the public URL.
func TestResolvePublicURL(t *testing.T) {
	tests := []struct {
		name         string
		mod          func(*Config)
		addr         string
		wantURL      string
		wantAudience string
	}{
		{"bound port", nil, "127.0.0.1:49152", "http://localhost:49152", "http://localhost:49152"},
		{"explicit public URL", func(c *Config) { c.PublicURL = "https://auth.example.com/" }, "127.0.0.1:8080",
			"https://auth.example.com", "https://auth.example.com"},
		{"public URL with a path", func(c *Config) { c.PublicURL = "https://example.com/auth/?x=1#f" }, "127.0.0.1:8080",
			"https://example.com/auth", "https://example.com/auth"},
		{"public URL with an empty query", func(c *Config) { c.PublicURL = "https://example.com/?" }, "127.0.0.1:8080",
			"https://example.com", "https://example.com"},
		{"explicit audience", func(c *Config) { c.Audience = "api://orders" }, "127.0.0.1:8080",
			"http://localhost:8080", "api://orders"},
		{"TLS", func(c *Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }, "auth.example.com:8443",
			"https://auth.example.com:8443", "https://auth.example.com:8443"},
		{"behind a proxy", func(c *Config) {
			c.TrustedProxies, c.PublicURL = []string{"10.0.0.0/8"}, "https://auth.example.com"
		}, "0.0.0.0:8080", "https://auth.example.com", "https://auth.example.com"},
		{"http on 127.0.0.1", func(c *Config) { c.PublicURL = "http://127.0.0.1:8080" }, "127.0.0.1:8080",
			"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		// The public URL's origin is matched against browsers' Origin
		// headers, which are lower case and omit the default port.
		{"public URL in origin form", func(c *Config) { c.PublicURL = "https://Auth.Example.COM:443/" }, "127.0.0.1:8080",
			"https://auth.example.com", "https://auth.example.com"},
		{"TLS on 443", func(c *Config) { c.TLSCert, c.TLSKey = "cert.pem", "key.pem" }, "auth.example.com:443",
			"https://auth.example.com", "https://auth.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			if tt.mod != nil {
				tt.mod(&c)
			}
			r, err := c.Resolve(tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.PublicURL.String(); got != tt.wantURL {
				t.Errorf("PublicURL = %s, want %s", got, tt.wantURL)
			}
			if r.Audience != tt.wantAudience {
				t.Errorf("Audience = %q, want %q", r.Audience, tt.wantAudience)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	path := writeYAML(t, `
listen: 127.0.0.1:9000
public_url: https://file.example.com
signing_alg: EdDSA
id_token_signing_alg: ES256
access_token_ttl: 2m
allowed_origins: [https://a.example.com, https://b.example.com]
argon2:
  memory_kib: 65536
  iterations: 3
`)
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config)
	}{
		{"file over defaults", nil, func(c *Config) {
			c.Listen, c.PublicURL, c.SigningAlg, c.AccessTokenTTL = "127.0.0.1:9000", "https://file.example.com", "EdDSA", 2*time.Minute
			c.IDTokenSigningAlg = "ES256"
			c.AllowedOrigins = []string{"https://a.example.com", "https://b.example.com"}
			c.Argon2 = Argon2{MemoryKiB: 65536, Iterations: 3, Parallelism: 1}
		}},
		{"environment over file", map[string]string{
			"GATEHOUSE_LISTEN":                "127.0.0.1:9001",
			"GATEHOUSE_SIGNING_ALG":           "RS256",
			"GATEHOUSE_ID_TOKEN_SIGNING_ALG":  "EdDSA",
			"GATEHOUSE_ACCESS_TOKEN_TTL":      "90s",
			"GATEHOUSE_SESSION_LIFETIME":      "720h",
			"GATEHOUSE_ALLOWED_ORIGINS":       " https://c.example.com , ,https://d.example.com:8443",
			"GATEHOUSE_ARGON2_MEMORY_KIB":     "131072",
			"GATEHOUSE_ARGON2_PARALLELISM":    "4",
			"GATEHOUSE_MAX_BODY_BYTES":        "2048",
			"GATEHOUSE_LOG_FORMAT":            "json",
			"GATEHOUSE_UNRELATED_SETTING_XYZ": "ignored",
		}, func(c *Config) {
			c.Listen, c.PublicURL, c.SigningAlg, c.IDTokenSigningAlg = "127.0.0.1:9001", "https://file.example.com", "RS256", "EdDSA"
			c.AccessTokenTTL, c.SessionLifetime = 90*time.Second, 720*time.Hour
			c.AllowedOrigins = []string{"https://c.example.com", "https://d.example.com:8443"}
			// iterations from the file, the rest from the environment
			c.Argon2 = Argon2{MemoryKiB: 131072, Iterations: 3, Parallelism: 4}
			c.MaxBodyBytes, c.LogFormat = 2048, "json"
		}},
		{"empty variable is unset", map[string]string{"GATEHOUSE_LISTEN": "", "GATEHOUSE_ID_TOKEN_SIGNING_ALG": ""}, func(c *Config) {
			c.Listen, c.PublicURL, c.SigningAlg, c.AccessTokenTTL = "127.0.0.1:9000", "https://file.example.com", "EdDSA", 2*time.Minute
			c.IDTokenSigningAlg = "ES256"
			c.AllowedOrigins = []string{"https://a.example.com", "https://b.example.com"}
			c.Argon2 = Argon2{MemoryKiB: 65536, Iterations: 3, Parallelism: 1}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(path, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if _, err := got.Resolve(got.Listen); err != nil {
				t.Errorf("Resolve: %v", err)
			}
		})
	}
}

func TestEnvWithoutFile(t *testing.T) {
	got, err := Load("", env(map[string]string{
		"GATEHOUSE_ARGON2_ITERATIONS": "4",
		"GATEHOUSE_TRUSTED_PROXIES":   "10.0.0.1,192.168.0.0/16",
		"GATEHOUSE_REFRESH_GRACE":     "0s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Argon2.Iterations != 4 || got.Argon2.MemoryKiB != Default().Argon2.MemoryKiB {
		t.Errorf("Argon2 = %+v, want iterations 4 over the default memory", got.Argon2)
	}
	if want := []string{"10.0.0.1", "192.168.0.0/16"}; !reflect.DeepEqual(got.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %q, want %q", got.TrustedProxies, want)
	}
	if got.RefreshGrace != 0 {
		t.Errorf("RefreshGrace = %v, want 0 (off)", got.RefreshGrace)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string // "" with noFile: no file at all
		noFile  bool
		env     map[string]string
		wantSub string
	}{
		{name: "unknown key", yaml: "listen: localhost:8080\nlisten_addr: x\n", wantSub: "listen_addr"},
		{name: "unknown nested key", yaml: "argon2:\n  memory: 1\n", wantSub: "memory"},
		{name: "wrong type", yaml: "max_body_bytes: lots\n", wantSub: "line 1"},
		{name: "bad duration in file", yaml: "access_token_ttl: soon\n", wantSub: "line 1"},
		{name: "not a mapping", yaml: "- listen\n", wantSub: "yaml"},
		{name: "missing file", noFile: true, wantSub: "no such file"},
		{name: "bad duration in env", env: map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "5"}, wantSub: "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{name: "bad int in env", env: map[string]string{"GATEHOUSE_MAX_BODY_BYTES": "64k"}, wantSub: "GATEHOUSE_MAX_BODY_BYTES"},
		{name: "negative uint in env", env: map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "-1"}, wantSub: "GATEHOUSE_ARGON2_MEMORY_KIB"},
		{name: "uint8 overflow in env", env: map[string]string{"GATEHOUSE_ARGON2_PARALLELISM": "256"}, wantSub: "GATEHOUSE_ARGON2_PARALLELISM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			switch {
			case tt.noFile:
				path = filepath.Join(t.TempDir(), "absent.yaml")
			case tt.yaml != "":
				path = writeYAML(t, tt.yaml)
			}
			_, err := Load(path, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not mention %q", err, tt.wantSub)
			}
		})
	}
}

func TestEmptyFile(t *testing.T) {
	got, err := Load(writeYAML(t, "# nothing set\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("empty file changed the defaults: %+v", got)
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		addr    string // default 127.0.0.1:8080
		wantSub string
	}{
		{"all interfaces without TLS", nil, "0.0.0.0:8080", "TLS"},
		{"empty host without TLS", nil, ":8080", "TLS"},
		{"public address without TLS", nil, "192.0.2.10:8080", "TLS"},
		{"TLS on every interface without public URL", func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, "0.0.0.0:8443", "public_url"},
		{"TLS on every IPv6 interface without public URL", func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, "[::]:8443", "public_url"},
		{"TLS on empty host without public URL", func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, ":8443", "public_url"},
		{"proxy without public URL", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8"} }, "0.0.0.0:8080", "public_url"},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "", "trusted_proxies"},
		{"hostname as trusted proxy", func(c *Config) { c.TrustedProxies = []string{"proxy.internal"} }, "", "trusted_proxies"},
		{"http public URL off localhost", func(c *Config) { c.PublicURL = "http://auth.example.com" }, "", "https"},
		{"http public URL, TLS listener", func(c *Config) {
			c.TLSCert, c.TLSKey, c.PublicURL = "c.pem", "k.pem", "http://auth.example.com"
		}, "0.0.0.0:8443", "https"},
		{"relative public URL", func(c *Config) { c.PublicURL = "/auth" }, "", "public_url"},
		{"public URL scheme", func(c *Config) { c.PublicURL = "ftp://auth.example.com" }, "", "public_url"},
		{"origin with path", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com/"} }, "", "allowed_origins"},
		{"origin with longer path", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com/login"} }, "", "allowed_origins"},
		{"origin with query", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com?x=1"} }, "", "allowed_origins"},
		{"origin with fragment", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com#top"} }, "", "allowed_origins"},
		{"origin with empty fragment", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com#"} }, "", "allowed_origins"},
		{"origin with empty query", func(c *Config) { c.AllowedOrigins = []string{"https://app.example.com?"} }, "", "allowed_origins"},
		{"origin with user", func(c *Config) { c.AllowedOrigins = []string{"https://me@app.example.com"} }, "", "allowed_origins"},
		{"origin without scheme", func(c *Config) { c.AllowedOrigins = []string{"app.example.com"} }, "", "allowed_origins"},
		{"origin wildcard", func(c *Config) { c.AllowedOrigins = []string{"*"} }, "", "allowed_origins"},
		{"argon2 memory below floor", func(c *Config) { c.Argon2.MemoryKiB = 64 }, "", "argon2"},
		{"argon2 iterations below floor", func(c *Config) { c.Argon2.Iterations = 1 }, "", "argon2"},
		{"argon2 no parallelism", func(c *Config) { c.Argon2.Parallelism = 0 }, "", "argon2"},
		{"argon2 above ceiling", func(c *Config) { c.Argon2.Iterations = 1000 }, "", "argon2"},
		{"unknown signing_alg", func(c *Config) { c.SigningAlg = "HS256" }, "", "signing_alg"},
		{"none signing_alg", func(c *Config) { c.SigningAlg = "none" }, "", "signing_alg"},
		{"unknown id_token_signing_alg", func(c *Config) { c.IDTokenSigningAlg = "HS256" }, "", "id_token_signing_alg"},
		{"none id_token_signing_alg", func(c *Config) { c.IDTokenSigningAlg = "none" }, "", "id_token_signing_alg"},
		{"empty id_token_signing_alg", func(c *Config) { c.IDTokenSigningAlg = "" }, "", "id_token_signing_alg"},
		{"id_token_signing_alg in lower case", func(c *Config) { c.IDTokenSigningAlg = "rs256" }, "", "id_token_signing_alg"},
		{"empty scope", func(c *Config) { c.AccessTokenScope = "" }, "", "access_token_scope"},
		{"scope too long", func(c *Config) { c.AccessTokenScope = strings.Repeat("s", MaxClaimBytes+1) }, "", "access_token_scope"},
		{"audience too long", func(c *Config) { c.Audience = strings.Repeat("a", MaxClaimBytes+1) }, "", "audience"},
		{"public URL too long", func(c *Config) { c.PublicURL = "https://" + strings.Repeat("p", MaxClaimBytes) + ".example" }, "", "public_url"},
		{"scope with double space", func(c *Config) { c.AccessTokenScope = "api  read" }, "", "access_token_scope"},
		{"scope with quote", func(c *Config) { c.AccessTokenScope = `api "x"` }, "", "access_token_scope"},
		{"scope with non-ASCII", func(c *Config) { c.AccessTokenScope = "apï" }, "", "access_token_scope"},
		{"refresh_grace negative", func(c *Config) { c.RefreshGrace = -time.Second }, "", "refresh_grace"},
		{"refresh_grace too long", func(c *Config) { c.RefreshGrace = 2 * time.Minute }, "", "refresh_grace"},
		{"clock_leeway negative", func(c *Config) { c.ClockLeeway = -time.Second }, "", "clock_leeway"},
		{"access_token_ttl zero", func(c *Config) { c.AccessTokenTTL = 0 }, "", "access_token_ttl"},
		{"session_lifetime negative", func(c *Config) { c.SessionLifetime = -time.Hour }, "", "session_lifetime"},
		{"key_activation_delay negative", func(c *Config) { c.KeyActivationDelay = -time.Minute }, "", "key_activation_delay"},
		{"tiny body limit", func(c *Config) { c.MaxBodyBytes = 10 }, "", "max_body_bytes"},
		{"tls cert without key", func(c *Config) { c.TLSCert = "cert.pem" }, "", "tls_key"},
		{"tls key without cert", func(c *Config) { c.TLSKey = "key.pem" }, "", "tls_cert"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "", "log_format"},
		{"log level", func(c *Config) { c.LogLevel = "verbose" }, "", "log_level"},
		{"listen without port", nil, "localhost", "listen"},
		{"short feed secret", func(c *Config) { c.RevocationFeedSecret = strings.Repeat("k", MinFeedSecretBytes-1) }, "", "revocation_feed_secret"},
		{"poll interval zero", func(c *Config) { c.RevocationPollInterval = 0 }, "", "revocation_poll_interval"},
		{"heartbeat too short", func(c *Config) { c.RevocationHeartbeat = time.Millisecond }, "", "revocation_heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			if tt.mod != nil {
				tt.mod(&c)
			}
			addr := tt.addr
			if addr == "" {
				addr = "127.0.0.1:8080"
			}
			_, err := c.Resolve(addr)
			if err == nil {
				t.Fatal("Resolve succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not mention %q", err, tt.wantSub)
			}
		})
	}
}

// TestResolveReportsEveryError: an operator fixes a bad file in one pass.
func TestResolveReportsEveryError(t *testing.T) {
	c := Default()
	c.SigningAlg, c.RefreshGrace, c.LogFormat = "HS256", -1, "xml"
	c.IDTokenSigningAlg = "PS256"
	_, err := c.Resolve("127.0.0.1:8080")
	if err == nil {
		t.Fatal("Resolve succeeded")
	}
	for _, sub := range []string{"signing_alg", "id_token_signing_alg", "refresh_grace", "log_format"} {
		if !strings.Contains(err.Error(), sub) {
			t.Errorf("error %q does not mention %q", err, sub)
		}
	}
}

func TestResolveTrustedProxies(t *testing.T) {
	c := Default()
	c.TrustedProxies = []string{"10.0.0.1", "192.168.0.0/16", "::1"}
	c.PublicURL = "https://auth.example.com"
	r, err := c.Resolve("0.0.0.0:8080")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.TrustedProxies {
		got = append(got, p.String())
	}
	if want := []string{"10.0.0.1/32", "192.168.0.0/16", "::1/128"}; !reflect.DeepEqual(got, want) {
		t.Errorf("TrustedProxies = %v, want %v", got, want)
	}
}

// TestResolveAllowedOrigins: the server matches Origin headers against the
// resolved list exactly, so each entry is kept as a browser sends it.
func TestResolveAllowedOrigins(t *testing.T) {
	c := Default()
	c.AllowedOrigins = []string{"https://app.example.com", "HTTPS://App.Example.com:443", "http://localhost:3000", "http://[::1]:80"}
	r, err := c.Resolve("127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://app.example.com", "https://app.example.com", "http://localhost:3000", "http://[::1]"}
	if !reflect.DeepEqual(r.AllowedOrigins, want) {
		t.Errorf("AllowedOrigins = %q, want %q", r.AllowedOrigins, want)
	}
	if c.AllowedOrigins[1] != "HTTPS://App.Example.com:443" {
		t.Error("Resolve changed the Config it was called on")
	}
}

// TestRevocationFeedSettings: the feed's keys load from the environment,
// inline_refresh as a boolean, and a refused secret is never echoed.
func TestRevocationFeedSettings(t *testing.T) {
	secret := strings.Repeat("s", MinFeedSecretBytes)
	got, err := Load("", env(map[string]string{
		"GATEHOUSE_REVOCATION_FEED_SECRET":   secret,
		"GATEHOUSE_REVOCATION_POLL_INTERVAL": "50ms",
		"GATEHOUSE_REVOCATION_HEARTBEAT":     "15s",
		"GATEHOUSE_INLINE_REFRESH":           "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got.RevocationFeedSecret != secret || got.RevocationPollInterval != 50*time.Millisecond ||
		got.RevocationHeartbeat != 15*time.Second || !got.InlineRefresh {
		t.Errorf("loaded %+v", got)
	}
	if _, err := got.Resolve("127.0.0.1:8080"); err != nil {
		t.Errorf("Resolve: %v", err)
	}
	d := Default()
	if d.RevocationFeedSecret != "" || d.InlineRefresh || d.RevocationPollInterval != 200*time.Millisecond || d.RevocationHeartbeat != 10*time.Second {
		t.Errorf("defaults %+v", d)
	}
	if _, err := Load("", env(map[string]string{"GATEHOUSE_INLINE_REFRESH": "maybe"})); err == nil {
		t.Error("inline_refresh=maybe accepted")
	}
	d.RevocationFeedSecret = "short-secret-value"
	if _, err := d.Resolve("127.0.0.1:8080"); err == nil || strings.Contains(err.Error(), d.RevocationFeedSecret) {
		t.Errorf("short secret: %v", err)
	}
}

// TestKeyEncryptionKeys: the key-encryption keys load from the
// environment in standard or URL-safe base64, padded or not, decode to 32
// bytes, and a refused key is never echoed.
func TestKeyEncryptionKeys(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0x01}, 11)[:32] // has + and / in std base64
	prev := bytes.Repeat([]byte{7}, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := Load("", env(map[string]string{
			"GATEHOUSE_KEY_ENCRYPTION_KEY":          enc.EncodeToString(raw),
			"GATEHOUSE_KEY_ENCRYPTION_KEY_PREVIOUS": enc.EncodeToString(prev) + "\n",
		}))
		if err != nil {
			t.Fatal(err)
		}
		r, err := got.Resolve("127.0.0.1:8080")
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if !bytes.Equal(r.KEK, raw) || !bytes.Equal(r.PreviousKEK, prev) {
			t.Errorf("decoded %x / %x", r.KEK, r.PreviousKEK)
		}
	}
	if r, err := Default().Resolve("127.0.0.1:8080"); err != nil || r.KEK != nil || r.PreviousKEK != nil {
		t.Errorf("default: %x %x %v", r.KEK, r.PreviousKEK, err)
	}

	short := base64.StdEncoding.EncodeToString(raw[:16])
	for _, tt := range []struct {
		name, kek, prev, wantSub string
	}{
		{"16 bytes", short, "", "key_encryption_key must be 32 bytes"},
		{"not base64", "this is not base64 at all!", "", "key_encryption_key must be base64"},
		{"previous alone", "", base64.StdEncoding.EncodeToString(prev), "key_encryption_key_previous needs key_encryption_key"},
		{"previous short", base64.StdEncoding.EncodeToString(raw), short, "key_encryption_key_previous must be 32 bytes"},
		{"previous equals current", base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), "must differ"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.KeyEncryptionKey, c.KeyEncryptionKeyPrevious = tt.kek, tt.prev
			_, err := c.Resolve("127.0.0.1:8080")
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantSub)
			}
			for _, v := range []string{tt.kek, tt.prev} {
				if v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error echoes the key: %v", err)
				}
			}
		})
	}
}

func TestDatabase(t *testing.T) {
	if c := Default(); c.Database != "" || !c.MigrateOnStart {
		t.Errorf("default database %q, migrate_on_start %v; want SQLite and true", c.Database, c.MigrateOnStart)
	}
	got, err := Load("", env(map[string]string{
		"GATEHOUSE_DATABASE":         "postgres://gh:s3cret@db.internal/gatehouse",
		"GATEHOUSE_MIGRATE_ON_START": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Database != "postgres://gh:s3cret@db.internal/gatehouse" || got.MigrateOnStart {
		t.Errorf("from the environment: database %q, migrate_on_start %v", got.Database, got.MigrateOnStart)
	}
	for _, tt := range []struct {
		database string
		ok       bool
	}{
		{"", true},
		{"postgres://gh@db.internal/gatehouse?sslmode=verify-full", true},
		{"postgresql://gh@db.internal/gatehouse", true},
		{"PostgreSQL://gh@db.internal/gatehouse", true},
		{"host=db.internal user=gh", false}, // a key=value string: use the URL form
		{"mysql://gh:s3cret@db.internal/gatehouse", false},
		{"sqlite:///var/lib/gatehouse.db", false},
		{"./data/gatehouse.db", false},
		{"postgres:/db.internal", false},
	} {
		c := Default()
		c.Database = tt.database
		_, err := c.Resolve("127.0.0.1:8080")
		if (err == nil) != tt.ok {
			t.Errorf("database %q: err = %v, want ok %v", tt.database, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "database must be") || strings.Contains(err.Error(), "s3cret")) {
			t.Errorf("database %q: error %q should name the key and never echo the value", tt.database, err)
		}
	}
}
