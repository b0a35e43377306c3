// Command gatehouse is the Gatehouse authentication and session server and
// its administration tool.
//
//	gatehouse serve            run the server
//	gatehouse user ...         manage users
//	gatehouse keys ...         list and rotate signing keys
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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", oneLine(err))
		os.Exit(1)
	}
}

// run executes one gatehouse command. It returns instead of exiting, and
// takes its environment explicitly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	root := newRootCmd(getenv, stdin, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
