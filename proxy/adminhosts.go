package proxy

import (
	"strconv"
	"time"
)

// poolRows is SHOW POOLS: one row per host, the primary first. The client
// columns are the server's (clients are not bound to a host between
// transactions) and repeat on every row.
func (s *Server) poolRows(active, idle int) [][]string {
	var rows [][]string
	for _, h := range s.pool.Hosts() {
		st := h.Stats
		rows = append(rows, []string{s.cfg.Database, s.pool.connCfg.User, strconv.Itoa(active), strconv.Itoa(idle), strconv.Itoa(st.Waiting),
			strconv.Itoa(st.InUse - st.Connecting), strconv.Itoa(st.Idle), strconv.Itoa(st.Open), strconv.Itoa(h.Max),
			avgMillis(st.WaitTotal, st.Acquired), "transaction", strconv.FormatBool(st.Paused),
			strconv.Itoa(st.Connecting), strconv.FormatUint(st.Created, 10), strconv.FormatUint(st.Closed, 10),
			strconv.FormatUint(st.Lost, 10), strconv.FormatUint(st.ConnectFailures, 10),
			h.Host, h.Role, strconv.FormatBool(h.InRotation), lagMillis(h)})
	}
	return rows
}

// hostRows is SHOW HOSTS.
func (s *Server) hostRows() [][]string {
	var rows [][]string
	for _, h := range s.pool.Hosts() {
		checked := ""
		if !h.Checked.IsZero() {
			checked = strconv.FormatInt(time.Since(h.Checked).Milliseconds(), 10)
		}
		rows = append(rows, []string{h.Host, h.Role, strconv.FormatBool(h.InRotation), lagMillis(h), checked, h.Why,
			strconv.Itoa(h.Stats.InUse - h.Stats.Connecting), strconv.Itoa(h.Stats.Idle), strconv.Itoa(h.Max),
			strconv.FormatUint(h.Stats.Acquired, 10)})
	}
	return rows
}

// lagMillis is a replica's replay lag in milliseconds; "" for the primary
// and for a replica whose lag is unknown.
func lagMillis(h HostStatus) string {
	if h.Role != roleReplica || h.Lag < 0 {
		return ""
	}
	return strconv.FormatInt(h.Lag.Milliseconds(), 10)
}
