package config

import (
	"errors"
	"net/url"
	"strings"
)

// RedactDSN masks every password a connection string can carry, in text
// that is a DSN or merely contains one (an error message that echoes it, a
// log line). It covers each spelling libpq and pgx accept, and is meant to
// over-mask rather than under-mask where a spelling is ambiguous:
//
//   - URL userinfo (scheme://user:PASSWORD@host): everything after the
//     first ':' up to the last '@' before the path. libpq ends the
//     userinfo at the first '@', other parsers at the last one; masking to
//     the last covers both. A password with a raw '/' in it strands its
//     '@' in the path; then the mask runs to the last '@' of the URL.
//   - URL query parameters whose key, percent-decoded and in any case, ends
//     in "password" (password, sslpassword, pass%77ord, PASSWORD): the value
//     up to the next '&' or '#', spaces included, since a parser that
//     takes the rest of the text takes them too.
//   - keyword/value pairs whose keyword ends in "password", in any case,
//     with or without spaces around '=': a quoted value to its closing
//     quote, an unquoted one to the next unescaped space, with backslash
//     escapes honoured as libpq honours them (password=a\ b is "a b").
//     libpq skips spaces after '=', so "password= host=h" sets the
//     password to "host=h", and that is what is masked.
func RedactDSN(text string) string {
	if !strings.ContainsAny(text, "@%") && !containsPass(text) {
		return text // no userinfo, no encoded key, no password key: nothing to mask
	}
	text = redactUserinfo(text)
	text = redactQueryParams(text)
	return redactKeywordValues(text)
}

// redactUserinfo masks the password of every scheme://user:password@ in
// text.
func redactUserinfo(text string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "://")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i+3])
		rest := text[i+3:]
		// The authority ends at the path; '?' does not end it for libpq,
		// which looks ahead for '@' past it.
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		at := strings.LastIndexByte(rest[:end], '@')
		if at < 0 {
			// A password holding a raw '/' strands its '@' past the
			// path (user:pa/ss@host): mask up to the last '@' of the
			// URL's run of non-space characters as well.
			tok := strings.IndexAny(rest, " \t\n\v\f\r`'\"")
			if tok < 0 {
				tok = len(rest)
			}
			at = strings.LastIndexByte(rest[:tok], '@')
		}
		colon := strings.IndexByte(rest[:max(at, 0)], ':')
		if at < 0 || colon < 0 {
			text = rest
			continue
		}
		b.WriteString(rest[:colon+1])
		b.WriteString(mask)
		text = rest[at:]
	}
}

// redactQueryParams masks the values of ?key=value and &key=value pairs
// whose decoded key names a password.
func redactQueryParams(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		c := text[i]
		b.WriteByte(c)
		i++
		if c != '?' && c != '&' {
			continue
		}
		eq := strings.IndexAny(text[i:], "=&#? \t\n\v\f\r")
		if eq < 0 || text[i+eq] != '=' || !passwordKey(text[i:i+eq], true) {
			continue
		}
		b.WriteString(text[i : i+eq+1])
		i += eq + 1
		end := strings.IndexAny(text[i:], "&#")
		if end < 0 {
			end = len(text) - i
		}
		b.WriteString(mask)
		i += end
	}
	return b.String()
}

// passwordKey reports whether key names a password: it ends in
// "password" in any case, once percent-decoded in a URL. A key that does
// not decode is treated as one, since a lenient parser may still read it.
func passwordKey(key string, encoded bool) bool {
	if encoded {
		d, err := url.PathUnescape(key)
		if err != nil {
			return strings.Contains(strings.ToLower(key), "pass")
		}
		key = d
	}
	return strings.HasSuffix(strings.ToLower(strings.TrimSpace(key)), "password")
}

// redactKeywordValues masks the value of every keyword = value pair whose
// keyword names a password.
func redactKeywordValues(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		eq := strings.IndexByte(text[i:], '=')
		if eq < 0 {
			b.WriteString(text[i:])
			break
		}
		eq += i
		b.WriteString(text[i : eq+1])
		i = eq + 1
		key := strings.TrimRight(text[:eq], " \t\n\v\f\r")
		if k := strings.LastIndexAny(key, " \t\n\v\f\r?&'\"`"); k >= 0 {
			key = key[k+1:]
		}
		if !passwordKey(key, false) || precededByQuery(text[:eq]) {
			continue
		}
		for i < len(text) && isSpace(text[i]) {
			b.WriteByte(text[i])
			i++
		}
		n := valueLen(text[i:])
		if n == 0 {
			continue
		}
		b.WriteString(mask)
		i += n
	}
	return b.String()
}

// precededByQuery reports whether the keyword before '=' starts right
// after '?' or '&': a URL parameter, which redactQueryParams masked
// already (to '&', not to the next space).
func precededByQuery(before string) bool {
	k := strings.LastIndexAny(before, " \t\n\v\f\r?&'\"`")
	return k >= 0 && (before[k] == '?' || before[k] == '&')
}

// valueLen is the length of the keyword/value value at the start of s, as
// libpq reads it: quoted to the closing unescaped quote (or the end), or
// unquoted to the next unescaped space.
func valueLen(s string) int {
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				return i + 1
			}
		}
		return len(s)
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case isSpace(s[i]):
			return i
		}
	}
	return len(s)
}

// isSpace is C's isspace in the C locale, which libpq uses.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// RedactCause is the root cause of a wrapped error, for one clear line,
// with RedactDSN applied (a connection-string error quotes the string).
func RedactCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return RedactDSN(err.Error())
		}
		err = next
	}
}

// containsPass is strings.Contains(strings.ToLower(text), "pass") without
// the lowered copy: RedactDSN runs on every string the log writes.
func containsPass(text string) bool {
	for i := 0; i+4 <= len(text); i++ {
		if text[i]|0x20 == 'p' && text[i+1]|0x20 == 'a' && text[i+2]|0x20 == 's' && text[i+3]|0x20 == 's' {
			return true
		}
	}
	return false
}
