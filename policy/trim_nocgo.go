//go:build !cgo

package policy

// trimCHeap is a no-op without cgo (the parser cannot run then either).
func trimCHeap() {}
