// Package config loads, defaults and validates pgmoat's YAML configuration.
//
// It is the only place that reads configuration: every command takes a
// *Config from Load (or builds one in code, as the demo does) and passes the
// parts each package needs down as plain values. Decoding is strict: an
// unknown key is an error that names the key, its line and the closest known
// key. Secrets (passwords, tokens, the password inside the backend DSN) are
// of type Secret, which never prints its value. RedactDSN is the one
// function that masks a connection-string password wherever text may
// carry one — SHOW CONFIG, error messages, every log record, doctor's
// output — in each spelling libpq and pgx accept: URL userinfo, a
// password= (or sslpassword=) query parameter in any case or percent
// encoding, and keyword/value pairs, quoted or with backslash escapes.
package config
