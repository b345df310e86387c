// Package devissuer is the local run's OpenID Connect issuer: it signs
// ES256 access tokens and publishes the OpenID configuration and the JSON Web
// Key Set that the real $connect authorizer (lambdas/authorizer) fetches, so
// `make dev` exercises the authorizer's verification code unchanged.
//
// The authorizer accepts only https issuer and key set URLs, so the issuer
// serves TLS on loopback with a server certificate from a local certificate
// authority it creates itself. The local run starts the authorizer process
// with SSL_CERT_FILE pointing at that CA (see [Issuer.CAFile]); on Linux and
// the other Unix systems whose Go crypto/x509 reads the system roots from
// files, that makes the CA trusted by the process's default HTTP client. On
// macOS and Windows crypto/x509 asks the platform verifier and ignores
// SSL_CERT_FILE.
//
// State (the signing key, the CA and the server certificate) lives in one
// directory and is created on first use, so tokens minted by one process (the
// `token` command) verify against the keys another (the dev server) serves.
// Several local runs may share one directory: each serves its own issuer URL,
// and a token names the URL it was minted for (see package localrun/runstate).
// [Issuer.CheckServing] tells whether a URL is served with this directory's
// keys, so the token command never prints a token no live run accepts.
//
// The certificate on disk names 127.0.0.1, ::1 and localhost; a client that
// reaches the issuer on another loopback address (127.1.2.3, say) gets one
// for that address, signed by the same CA and kept in memory.
//
// Nothing here is for production: the keys sit unencrypted on disk, anyone
// who can read them can mint tokens the local authorizer accepts, and the CA
// must never be added to a system or browser trust store.
package devissuer
