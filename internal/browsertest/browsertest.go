// Package browsertest is what the real-browser tests share: finding
// Chromium and starting it headless through chromedp, and the rule that a
// missing browser or package skips a test, loudly, except under CI
// (CI=true), where it fails it, so that CI cannot pass without having run
// the test. The browser tests of cmd/gatehouse and the openid-client
// interop test of internal/provider use it.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Missing reports that something a test needs is not installed: the test
// is skipped with msg, or under CI fails with it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
}

// Chromium returns the browser to drive, or skips (fails under CI); what
// names the tests that will not run, for the message.
func Chromium(t testing.TB, what string) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium" // Debian's package, when PATH lacks /usr/bin
	}
	Missing(t, "no Chromium found, so "+what+" did NOT run; install it (Debian: apt-get install chromium)")
	return ""
}

// Start starts headless Chromium and returns the context of its first
// tab; every other tab derives from it. The browser ends with the test.
func Start(t testing.TB, what string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t, what)),
		// Chromium refuses to start its sandbox as root, which is how CI
		// runs; only then is the sandbox turned off. The pages it loads
		// are the test's own.
		chromedp.Flag("no-sandbox", os.Getuid() == 0),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser, which lives as long as its
	// context: no deadline here, or it would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}
