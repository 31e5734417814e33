package policy

// SQLStateTooManyConnections is too_many_connections: both doors answer
// it when no backend became free in time (the pool is exhausted, or the
// caller's identity holds its share) and the proxy when max_client_conn
// is reached.
const SQLStateTooManyConnections = "53300"
