package natskv

import (
	"context"
	"fmt"
	"testing"

	"github.com/seqshm/seqshm/seqlock"
)

// TestGlobExportImport: one process, one connection, exports 100
// segments matched by a glob (half of them created after it started);
// one wildcard import on another connection creates all 100 on the other
// side (here the same machine, under the names copy.robot1.*) with their
// latest values.
func TestGlobExportImport(t *testing.T) {
	const n = 100
	srv := setup(t)
	pubs := make([]*seqlock.Publisher, n)
	for i := range n / 2 {
		pubs[i] = publisher(t, fmt.Sprintf("robot1.s%03d", i))
		pubs[i].Publish([]byte("early"))
	}
	publisher(t, "robot2.other").Publish([]byte("not matched"))
	ncA := connect(t, srv)
	start(t, func(ctx context.Context) error {
		return ExportGlob(ctx, ncA, []ExportMapping{{Glob: "robot1.*", Prefix: "site."}}, &ExportOptions{Logf: t.Logf})
	})
	for i := n / 2; i < n; i++ {
		pubs[i] = publisher(t, fmt.Sprintf("robot1.s%03d", i))
		pubs[i].Publish([]byte("late"))
	}

	ncB := connect(t, srv)
	stats := new(Stats)
	start(t, func(ctx context.Context) error {
		return ImportKeys(ctx, ncB, "site.>", &ImportOptions{Strip: "site.", Prefix: "copy.", Capacity: 64, Stats: stats, Logf: t.Logf})
	})
	for i, p := range pubs {
		p.Publish([]byte(fmt.Sprintf("value %d", i)))
	}
	for i := range n {
		want := fmt.Sprintf("value %d", i)
		waitSegment(t, fmt.Sprintf("copy.robot1.s%03d", i), func(m seqlock.Meta, v []byte) bool { return string(v) == want })
	}
	if _, err := seqlock.Stat("copy.robot2.other"); err == nil {
		t.Errorf("robot2.other was exported, but does not match robot1.*")
	}
	if got := stats.Importing.Load(); got != n {
		t.Errorf("importing %d keys, want %d", got, n)
	}
}
