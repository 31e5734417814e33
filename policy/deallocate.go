package policy

// Deallocation is what DEALLOCATE [PREPARE] name or DEALLOCATE [PREPARE]
// ALL forgets. Drivers send it to evict their statement caches (Rails'
// ActiveRecord, pgx's DeallocateAll). A door answers it for the
// client's own statement names only; the server's statements, which a
// pooled backend may share among clients, are not touched.
type Deallocation struct {
	Name string // "" when All
	All  bool
}

// deallocate judges DEALLOCATE: it reads nothing, so it is allowed, and
// the verdict says which names it forgets (pg_query leaves the name out
// for ALL). The verdict carries the name: texts never share it.
func (w *walker) deallocate(b []byte) (Kind, error) {
	w.refuseSharing("the verdict carries a statement name")
	name, _ := findBytes(b, w.n.deallocName)
	w.deallocation = &Deallocation{Name: string(name), All: len(name) == 0}
	return KindDeallocate, nil
}
