// Command gatehouse is the Gatehouse authentication and session server and
// its administration tool.
//
//	gatehouse serve            run the server
//	gatehouse user ...         manage users
//	gatehouse sessions ...     list and end sessions
//	gatehouse keys ...         list and rotate signing keys
//	gatehouse client ...       register and manage OAuth 2.0 clients
//	gatehouse migrate          apply database migrations, print the version
//
// main only calls run, so tests can drive the real program, flags,
// environment and all, without building a binary.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() { os.Exit(runProcess(os.Args[1:])) }

// runProcess runs one command as a process does, SIGINT and SIGTERM
// cancelling it, and returns the exit code. Tests that need a real process
// (one they can kill) run the test binary through it.
func runProcess(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", oneLine(err))
		return 1
	}
	return 0
}

// run executes one gatehouse command. It returns instead of exiting, and
// takes its environment explicitly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRootCmd(getenv, stdin, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
