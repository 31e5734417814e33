package mcp

// AcceptFailed counts one failed Accept of the listener the HTTP handler
// is served on (Stats.AcceptErrors). The handler does not own its
// listener: the caller wraps it in one that retries temporary errors
// (package proxy's back-off listener, wired in by the binary) and calls
// this hook for each failure, so the MCP door's count stays its own.
func (s *Server) AcceptFailed() { s.stats.acceptErrors.Add(1) }
