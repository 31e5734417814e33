//go:build cgo

package policy

/*
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
static void pgmoat_trim(void) { malloc_trim(0); }
#else
static void pgmoat_trim(void) {}
#endif
*/
import "C"

// trimCHeap hands the C heap's free memory back to the system. libpg_query
// allocates a long text's parse tree and JSON with malloc from whichever
// glibc arena the calling thread uses; freed, that memory stays in the
// arena, so long texts judged one after another on different threads
// would each leave a few hundred MB resident (ten 1 MiB texts in a row:
// about 1 GB). glibc's malloc_trim releases it from every arena.
func trimCHeap() { C.pgmoat_trim() }
