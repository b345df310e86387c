// Package env reads a function's configuration from its environment at cold
// start. Every error names the variable and what is wanted, so a bad deploy
// fails at init with a message that says how to fix it.
package env

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Getenv is the signature of os.Getenv; tests pass a map lookup instead.
type Getenv func(name string) string

// Required returns the value of name, or an error when it is unset or blank.
func Required(getenv Getenv, name string) (string, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// Int returns the decimal integer in name, def when it is unset or blank, or
// an error when it is not an integer in [lo, hi].
func Int(getenv Getenv, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// URL returns the http or https URL in name, without a trailing slash (the
// SDKs append their paths to it), or an error saying want when it is
// unset, has no host, or carries user info, a query or a fragment. http
// only makes sense for local runs.
func URL(getenv Getenv, name, want string) (string, error) {
	v, err := Required(getenv, name)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%s=%q: want %s", name, v, want)
	}
	return strings.TrimSuffix(v, "/"), nil
}
