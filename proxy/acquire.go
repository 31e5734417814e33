package proxy

import "context"

// A statement whose batch waits for a backend (every one is lent) is
// running from its client's view, and PostgreSQL's answer to a cancel
// request for a running statement is 57014. So a cancel request that
// comes while the session waits for the backend its statement needs
// ends the wait (borrower.stop) and the statement is answered
// errWaitCanceled, never sent to a backend: in the simple protocol the
// error and ReadyForQuery, in an extended batch the error and the skip
// to Sync, as after any error the session answers itself with no
// backend held. A backend or slot the pool hands over at the same moment
// goes back to it (Pool.waitStopped). A cancel that comes while a backend
// is being connected or readied for the statement does not cut that
// short: the backend, once lent, is handed back unused and the statement
// answered the same way. So is a TimeZone SET waiting for the backend
// that checks the zone (serverValue): it is not taken.

// lendForStatement is srv.lend for the statement about to be sent, in a
// window where a cancel request ends its wait (cancelBackend).
func (s *session) lendForStatement(ctx context.Context) (*backend, error) {
	return s.lendCancelable(ctx, true)
}

// lendCancelable is srv.lendFor in a window where a cancel request ends
// the wait, for the client's statement or the check of its TimeZone SET
// (serverValue), which waits for a backend of its own and is as running
// from the client's view: neither is sent when the cancel came.
func (s *session) lendCancelable(ctx context.Context, replays bool) (*backend, error) {
	s.openAcquire()
	bk, err := s.srv.lendFor(ctx, s.id, s.set, replays, s.acquireStop)
	if s.closeAcquire() {
		if bk != nil {
			s.handBack(bk) // never sent the statement
		}
		return nil, errWaitCanceled
	}
	return bk, err
}

// openAcquire opens the window in which a cancel request ends the wait
// for a backend.
func (s *session) openAcquire() {
	s.cancelMu.Lock()
	if s.acquireStop == nil {
		s.acquireStop = make(chan struct{}, 1)
	}
	s.acquiring = true
	s.cancelMu.Unlock()
}

// closeAcquire closes the window and reports whether a cancel request
// came in it; a stop token the wait did not take is taken back.
func (s *session) closeAcquire() bool {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	asked := s.waitCanceled
	s.acquiring, s.waitCanceled = false, false
	select {
	case <-s.acquireStop:
	default:
	}
	return asked
}

// stopAcquire is cancelBackend's part while the session waits for a
// backend: it notes the cancel and ends the wait. Under cancelMu.
func (s *session) stopAcquire() {
	s.waitCanceled = true
	select {
	case s.acquireStop <- struct{}{}:
	default:
	}
}
