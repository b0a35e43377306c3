// Package config loads Gatehouse's configuration from, in rising order of
// precedence: built-in defaults, a YAML file, GATEHOUSE_* environment
// variables, and command-line flags (applied by the caller). Every key is
// documented in docs/configuration.md.
package config

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is every setting. It is plain data: this package imports none of
// the packages that use the settings, and the composition root turns them
// into those packages' own types (Argon2 into password.Params, for one). The yaml tag is the file key; the environment
// variable is GATEHOUSE_ followed by the key path in upper case, joined by
// underscores (argon2.memory_kib is GATEHOUSE_ARGON2_MEMORY_KIB). Lists are
// comma-separated in the environment.
type Config struct {
	Listen string `yaml:"listen"`
	Data   string `yaml:"data"`
	// Database selects the store: empty is SQLite in the data directory,
	// a postgres:// or postgresql:// URL is PostgreSQL, shared by every
	// node. MigrateOnStart applies pending migrations when a command
	// opens PostgreSQL; off, `gatehouse migrate` does it once.
	Database       string   `yaml:"database"`
	MigrateOnStart bool     `yaml:"migrate_on_start"`
	PublicURL      string   `yaml:"public_url"`
	AllowedOrigins []string `yaml:"allowed_origins"`
	TLSCert        string   `yaml:"tls_cert"`
	TLSKey         string   `yaml:"tls_key"`
	TrustedProxies []string `yaml:"trusted_proxies"`

	Audience           string        `yaml:"audience"`
	SigningAlg         string        `yaml:"signing_alg"`
	IDTokenSigningAlg  string        `yaml:"id_token_signing_alg"` // ID tokens' keys, a lineage of their own
	AccessTokenTTL     time.Duration `yaml:"access_token_ttl"`
	AccessTokenScope   string        `yaml:"access_token_scope"`
	ClockLeeway        time.Duration `yaml:"clock_leeway"`
	RefreshGrace       time.Duration `yaml:"refresh_grace"`
	SessionIdleTimeout time.Duration `yaml:"session_idle_timeout"`
	SessionLifetime    time.Duration `yaml:"session_lifetime"`
	KeyActivationDelay time.Duration `yaml:"key_activation_delay"`
	JWKSMaxAge         time.Duration `yaml:"jwks_max_age"`
	// KeyEncryptionKey encrypts signing keys at rest (base64 of 32 random
	// bytes); KeyEncryptionKeyPrevious only decrypts, for rotating it.
	KeyEncryptionKey         string `yaml:"key_encryption_key"`
	KeyEncryptionKeyPrevious string `yaml:"key_encryption_key_previous"`

	SessionRetention time.Duration `yaml:"session_retention"`

	// RevocationFeedSecret is the bearer secret of GET /auth/revocations;
	// empty turns the endpoint off (a guard in this process follows the
	// feed directly).
	RevocationFeedSecret   string        `yaml:"revocation_feed_secret"`
	RevocationPollInterval time.Duration `yaml:"revocation_poll_interval"`
	RevocationHeartbeat    time.Duration `yaml:"revocation_heartbeat"`
	// InlineRefresh widens the refresh cookie's Path to / so that a guard
	// on this site can refresh in the middle of a request.
	InlineRefresh bool `yaml:"inline_refresh"`
	// LogoutClearSiteData adds Clear-Site-Data: "cookies" to logout
	// answers, which drops every cookie of the site, the app's own too.
	LogoutClearSiteData bool `yaml:"logout_clear_site_data"`

	Argon2 Argon2 `yaml:"argon2"`
	// HashMemoryBudgetMiB bounds the memory concurrent password hashes
	// use; logins beyond it queue (HashQueue deep, HashQueueWait long) and
	// then get 503.
	HashMemoryBudgetMiB int           `yaml:"hash_memory_budget_mib"`
	HashQueue           int           `yaml:"hash_queue"`
	HashQueueWait       time.Duration `yaml:"hash_queue_wait"`

	LoginLimits LoginLimits `yaml:"login_limits"`

	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"`
	RequestTimeout time.Duration `yaml:"request_timeout"`

	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`
	// BFF configures `gatehouse bff`, the backend-for-frontend.
	BFF BFF `yaml:"bff"`
}

// Argon2 are argon2id's cost parameters, field for field password.Params
// (the composition root converts one into the other).
type Argon2 struct {
	MemoryKiB   uint32 `yaml:"memory_kib"`
	Iterations  uint32 `yaml:"iterations"`
	Parallelism uint8  `yaml:"parallelism"`
}

// Argon2 floors and ceilings: OWASP's minimum for argon2id (m=19 MiB, t=2,
// p=1), the default, and the most a stored hash may carry, which the
// password package enforces when it checks one (a hash made with more
// would be refused as malformed, and nobody could log in). They are
// password.DefaultParams and the password package's ceilings; a test of
// the composition root holds them to those.
const (
	minArgon2MemoryKiB   = 19 * 1024
	minArgon2Iterations  = 2
	minArgon2Parallelism = 1
	maxArgon2MemoryKiB   = 4 << 20 // 4 GiB
	maxArgon2Iterations  = 64
)

// Validate checks a against the floor Gatehouse accepts and the ceiling
// the password package's Check accepts, with password.Params.Validate's
// words.
func (a Argon2) Validate() error {
	if a.MemoryKiB < minArgon2MemoryKiB || a.Iterations < minArgon2Iterations || a.Parallelism < minArgon2Parallelism {
		return fmt.Errorf("argon2id parameters m=%d t=%d p=%d are below the minimum m=%d t=%d p=%d",
			a.MemoryKiB, a.Iterations, a.Parallelism,
			minArgon2MemoryKiB, minArgon2Iterations, minArgon2Parallelism)
	}
	if a.MemoryKiB > maxArgon2MemoryKiB || a.Iterations > maxArgon2Iterations {
		return fmt.Errorf("argon2id parameters m=%d t=%d are above the maximum m=%d t=%d",
			a.MemoryKiB, a.Iterations, maxArgon2MemoryKiB, maxArgon2Iterations)
	}
	return nil
}

// BFF configures the backend-for-frontend (docs/bff.md). Its sessions are
// kept in this configuration's database.
type BFF struct {
	// Issuer is the OpenID provider's issuer URL.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is read from the environment
	// (GATEHOUSE_BFF_CLIENT_SECRET) or the file, never from a flag;
	// ClientSecretFile names a file holding it instead.
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	// Listen is the BFF's own address; PublicURL where browsers reach it
	// (the SPA's origin).
	Listen    string `yaml:"listen"`
	PublicURL string `yaml:"public_url"`
	// Prefix of the BFF's endpoints (default /bff).
	Prefix string `yaml:"prefix"`
	// Routes are "PREFIX=UPSTREAM" pairs: /api/=http://127.0.0.1:9000.
	Routes                []string      `yaml:"routes"`
	PostLogoutRedirectURI string        `yaml:"post_logout_redirect_uri"`
	IdleTimeout           time.Duration `yaml:"idle_timeout"`
	Lifetime              time.Duration `yaml:"lifetime"`
}

// SigningAlgorithms are the values signing_alg and id_token_signing_alg
// accept, in the order their errors list them: token.Algorithms, which a
// test of the composition root holds them to.
var SigningAlgorithms = []string{"ES256", "EdDSA", "RS256"}

// KEKSize is the length of a key-encryption key (AES-256): token.KEKSize.
const KEKSize = 32

// LoginLimits is the brute-force defence policy (docs/security/lockout.md).
type LoginLimits struct {
	IPPerMinute            int           `yaml:"ip_per_minute"`
	IPBurst                int           `yaml:"ip_burst"`
	FreeFailures           int           `yaml:"free_failures"`
	BackoffBase            time.Duration `yaml:"backoff_base"`
	BackoffMax             time.Duration `yaml:"backoff_max"`
	LockAfter              int           `yaml:"lock_after"`
	LockFor                time.Duration `yaml:"lock_for"`
	AccountFailuresPerHour int           `yaml:"account_failures_per_hour"`
}

// Default returns the development defaults: loopback, plain HTTP (browsers
// treat http://localhost as a secure context, so Secure cookies work),
// SQLite in ./data.
func Default() Config {
	return Config{
		Listen:                 "localhost:8080",
		Data:                   "./data",
		MigrateOnStart:         true,
		SigningAlg:             "ES256",
		IDTokenSigningAlg:      "RS256", // the one every relying party must support (OpenID Connect Core §15.1)
		AccessTokenTTL:         5 * time.Minute,
		AccessTokenScope:       "api",
		ClockLeeway:            30 * time.Second,
		RefreshGrace:           10 * time.Second,
		SessionIdleTimeout:     7 * 24 * time.Hour,
		SessionLifetime:        30 * 24 * time.Hour,
		KeyActivationDelay:     10 * time.Minute,
		JWKSMaxAge:             5 * time.Minute,
		SessionRetention:       30 * 24 * time.Hour,
		RevocationPollInterval: 200 * time.Millisecond,
		RevocationHeartbeat:    10 * time.Second,
		Argon2:                 Argon2{MemoryKiB: minArgon2MemoryKiB, Iterations: minArgon2Iterations, Parallelism: minArgon2Parallelism},
		HashMemoryBudgetMiB:    256,
		HashQueue:              256,
		HashQueueWait:          5 * time.Second,
		LoginLimits: LoginLimits{
			IPPerMinute:            60,
			IPBurst:                20,
			FreeFailures:           3,
			BackoffBase:            time.Second,
			BackoffMax:             time.Minute,
			LockAfter:              10,
			LockFor:                15 * time.Minute,
			AccountFailuresPerHour: 100,
		},
		MaxBodyBytes:   64 << 10,
		MaxHeaderBytes: 16 << 10,
		RequestTimeout: 10 * time.Second,
		LogLevel:       "info",
		LogFormat:      "text",
	}
}

// Load returns the defaults overlaid with the YAML file at path (if path
// is not empty) and then with the environment read through getenv.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path) // #nosec G304 -- the operator names the file (--config, GATEHOUSE_CONFIG)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(reflect.ValueOf(&c).Elem(), "GATEHOUSE", getenv); err != nil {
		return c, err
	}
	return c, nil
}

func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(key)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, getenv); err != nil {
				return err
			}
			continue
		}
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("config: %s=%q: %w", name, raw, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, raw string) error {
	switch fv.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	case []string:
		var parts []string
		for p := range strings.SplitSeq(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Uint8, reflect.Uint32:
		n, err := strconv.ParseUint(raw, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetUint(n)
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// Resolved is a validated configuration with its derived values.
type Resolved struct {
	Config
	PublicURL      *url.URL
	TrustedProxies []netip.Prefix
	// KEK and PreviousKEK are the decoded key-encryption keys, nil when
	// not set.
	KEK, PreviousKEK []byte
}

// Resolve validates c. listenAddr is the address actually bound (it can
// differ from c.Listen when the port is 0); it fills in the default public
// URL.
func (c Config) Resolve(listenAddr string) (Resolved, error) {
	r := Resolved{Config: c}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return r, fmt.Errorf("config: listen %q: %w", listenAddr, err)
	}
	loopback := isLoopback(host)
	tls := c.TLSCert != "" || c.TLSKey != ""
	if tls && (c.TLSCert == "" || c.TLSKey == "") {
		bad("tls_cert and tls_key must be set together")
	}
	for _, p := range c.TrustedProxies {
		pfx, err := parsePrefix(p)
		if err != nil {
			bad("trusted_proxies: %q is not an address or CIDR prefix", p)
			continue
		}
		r.TrustedProxies = append(r.TrustedProxies, pfx)
	}
	if !loopback && !tls && len(r.TrustedProxies) == 0 {
		bad("refusing to listen on %s without TLS: set tls_cert and tls_key, or trusted_proxies for a TLS-terminating proxy", listenAddr)
	}

	pub := c.PublicURL
	if pub == "" {
		switch {
		case tls && unspecified(host):
			// "https://[::]:8443" would become the issuer and the
			// origin logins must come from.
			bad("public_url is required when listening on every interface (%s): the https URL browsers use", listenAddr)
		case tls:
			pub = "https://" + listenAddr
		case loopback:
			_, port, _ := net.SplitHostPort(listenAddr)
			pub = "http://localhost:" + port
		default:
			bad("public_url is required behind a proxy (the https URL browsers use)")
		}
	}
	if pub != "" {
		u, err := url.Parse(pub)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("public_url %q must be an absolute http(s) URL", pub)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			bad("public_url %q must use https (plain http is allowed only for localhost)", pub)
		default:
			u.Path, u.RawQuery, u.Fragment = strings.TrimSuffix(u.Path, "/"), "", ""
			u.ForceQuery = false // "https://host/?" would keep its "?"
			u.Host = strings.TrimPrefix(origin(u), u.Scheme+"://")
			r.PublicURL = u
		}
	}
	// The server matches Origin headers against these strings exactly, so
	// each is kept in the form a browser sends.
	r.AllowedOrigins = nil
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || !strings.EqualFold(o, u.Scheme+"://"+u.Host) {
			bad("allowed_origins: %q must be scheme://host[:port] with nothing after", o)
			continue
		}
		r.AllowedOrigins = append(r.AllowedOrigins, origin(u))
	}
	if c.Audience == "" && r.PublicURL != nil {
		r.Audience = r.PublicURL.String()
	}
	if !slices.Contains(SigningAlgorithms, c.SigningAlg) {
		bad("signing_alg %q must be one of %v", c.SigningAlg, SigningAlgorithms)
	}
	if !slices.Contains(SigningAlgorithms, c.IDTokenSigningAlg) {
		bad("id_token_signing_alg %q must be one of %v", c.IDTokenSigningAlg, SigningAlgorithms)
	}
	if err := c.Argon2.Validate(); err != nil {
		bad("argon2: %v", err)
	}
	positive := map[string]time.Duration{
		"access_token_ttl": c.AccessTokenTTL, "session_idle_timeout": c.SessionIdleTimeout,
		"session_lifetime": c.SessionLifetime, "jwks_max_age": c.JWKSMaxAge, "request_timeout": c.RequestTimeout,
	}
	for _, k := range slices.Sorted(maps.Keys(positive)) {
		if positive[k] <= 0 {
			bad("%s must be positive", k)
		}
	}
	// These travel in every access token, and the token in a cookie
	// browsers cap at 4096 bytes (server test TestLargestCookieFits).
	for k, v := range map[string]string{"public_url": c.PublicURL, "audience": c.Audience, "access_token_scope": c.AccessTokenScope} {
		if len(v) > MaxClaimBytes {
			bad("%s must be at most %d bytes: it is in every access token", k, MaxClaimBytes)
		}
	}
	if !validScope(c.AccessTokenScope) {
		bad("access_token_scope %q must be one or more space-separated scope tokens (RFC 6749 §3.3)", c.AccessTokenScope)
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		bad("refresh_grace must be between 0 (off) and 1m")
	}
	if c.ClockLeeway < 0 || c.ClockLeeway > 5*time.Minute {
		bad("clock_leeway must be between 0 and 5m")
	}
	if c.KeyActivationDelay < 0 {
		bad("key_activation_delay must not be negative")
	}
	// The URL may hold a password: the error never echoes it.
	if c.Database != "" && !IsPostgres(c.Database) {
		bad("database must be empty (SQLite in the data directory) or a postgres:// or postgresql:// URL")
	}
	if c.SessionRetention < 0 {
		bad("session_retention must not be negative")
	}
	// The errors never echo a key.
	for _, k := range []struct {
		name, value string
		dst         *[]byte
	}{{"key_encryption_key", c.KeyEncryptionKey, &r.KEK}, {"key_encryption_key_previous", c.KeyEncryptionKeyPrevious, &r.PreviousKEK}} {
		if k.value == "" {
			continue
		}
		b, err := parseKEK(k.value)
		if err != nil {
			bad("%s %v", k.name, err)
		}
		*k.dst = b
	}
	if r.PreviousKEK != nil && r.KEK == nil {
		bad("key_encryption_key_previous needs key_encryption_key: it only decrypts")
	}
	if r.KEK != nil && r.PreviousKEK != nil && subtle.ConstantTimeCompare(r.KEK, r.PreviousKEK) == 1 {
		bad("key_encryption_key_previous must differ from key_encryption_key")
	}
	// The feed secret is a bearer credential for every resource server:
	// 32 bytes at least, as for an HMAC key (RFC 2104 §3, RFC 7518 §3.2).
	// The error never echoes it.
	if n := len(c.RevocationFeedSecret); n > 0 && n < MinFeedSecretBytes {
		bad("revocation_feed_secret must be at least %d bytes (it is %d)", MinFeedSecretBytes, n)
	}
	if c.RevocationPollInterval < 10*time.Millisecond || c.RevocationPollInterval > time.Minute {
		bad("revocation_poll_interval must be between 10ms and 1m")
	}
	if c.RevocationHeartbeat < time.Second || c.RevocationHeartbeat > 5*time.Minute {
		bad("revocation_heartbeat must be between 1s and 5m")
	}
	if c.HashMemoryBudgetMiB*1024 < int(c.Argon2.MemoryKiB) || c.HashQueue < 0 || c.HashQueueWait <= 0 {
		bad("hash_memory_budget_mib must hold at least one hash (argon2.memory_kib), hash_queue must not be negative and hash_queue_wait must be positive")
	}
	l := c.LoginLimits
	if l.IPPerMinute <= 0 || l.IPBurst <= 0 || l.FreeFailures <= 0 || l.BackoffBase <= 0 || l.BackoffMax < l.BackoffBase ||
		l.LockAfter < l.FreeFailures || l.LockFor <= 0 || l.AccountFailuresPerHour <= 0 || l.AccountFailuresPerHour > 100 {
		bad("login_limits: every value must be positive, backoff_max >= backoff_base, lock_after >= free_failures, and account_failures_per_hour at most 100 (ASVS 6.1.1)")
	}
	if c.MaxBodyBytes < 1024 || c.MaxHeaderBytes < 4096 {
		bad("max_body_bytes must be at least 1024 and max_header_bytes at least 4096")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format must be text or json")
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level must be debug, info, warn or error")
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("config: %w", errors.Join(errs...))
	}
	return r, nil
}

// origin returns u's scheme, host and port as a browser serialises them in
// an Origin header (RFC 6454 §6.2): lower case, without the scheme's
// default port.
func origin(u *url.URL) string {
	host := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return u.Scheme + "://" + host
}

// IsPostgres reports whether database names a PostgreSQL database: a URL
// whose scheme is postgres or postgresql (RFC 3986 §3.1: in any case).
func IsPostgres(database string) bool {
	scheme, _, ok := strings.Cut(database, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// parseKEK decodes a configured key-encryption key: standard or URL-safe
// base64, padded or not, of exactly KEKSize bytes. Its error never
// contains the value.
func parseKEK(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KEKSize {
				return nil, fmt.Errorf("must be %d bytes, base64-encoded (it decodes to %d)", KEKSize, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("must be base64 of %d random bytes (openssl rand -base64 32)", KEKSize)
}

// MinFeedSecretBytes is the shortest revocation_feed_secret accepted.
const MinFeedSecretBytes = 32

// MaxClaimBytes bounds the configured values that every access token
// carries (issuer, audience, scope).
const MaxClaimBytes = 200

// validScope reports whether s is an RFC 6749 §3.3 scope: tokens of
// printable ASCII other than space, double quote and backslash, separated
// by single spaces.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			return false
		}
		for _, c := range []byte(tok) {
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}

// unspecified reports whether host is no particular address: listening on
// it means every interface.
func unspecified(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
