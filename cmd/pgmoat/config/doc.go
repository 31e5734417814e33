// Package config loads, defaults and validates pgmoat's YAML configuration.
//
// It is the only place that reads configuration: every command takes a
// *Config from Load (or builds one in code, as the demo does) and passes the
// parts each package needs down as plain values. Decoding is strict: an
// unknown key is an error that names the key, its line and the closest known
// key. Secrets (passwords, tokens, the password inside the backend DSN) are
// of type Secret, which never prints its value.
package config
