// Command fetch GETs the URL in its argument with Go's default HTTP client
// and prints the response status code. The devissuer tests run it with and
// without SSL_CERT_FILE to prove that variable makes a process trust the
// local CA.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fetch URL")
		os.Exit(2)
	}
	// The default client, as the authorizer uses (with a timeout); the
	// context only keeps a broken test from hanging.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Args[1], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = resp.Body.Close()
	fmt.Println(resp.StatusCode)
}
