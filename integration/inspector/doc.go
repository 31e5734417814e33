// Package inspector runs the MCP Inspector CLI (the npm package
// @modelcontextprotocol/inspector) for pgmoat's tests: Package is the one
// release every test drives. Install puts it and the Node.js 22 it needs
// (the machine's own Node may be older; both from npm) into a cache
// directory that outlives the test run, under a file lock, so test
// packages running at once share one install. On a machine without npm the
// calling test is skipped, and under CI (CI set) it fails: .ci/deps
// installs Node.js and npm.
package inspector
