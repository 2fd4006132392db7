package git

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// commitCount counts the commits of main.
func commitCount(t require.TestingT, bare string) int {
	out := testutil.GitOutput(bare, "rev-list", "--count", "main")
	n, err := strconv.Atoi(out)
	require.NoError(t, err, out)
	return n
}

// Test_gitMode_backlogAndBurst: 50 trenches waiting when the operator starts take at most 5
// commits; a burst of 1,000 Flow updates takes far fewer commits than updates and loses none;
// a change that does not alter the render (a label on a Vip) makes no commit.
func Test_gitMode_backlogAndBurst(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, c)
	url, bare := bareRemote(t)
	const trenches = 50
	for i := range trenches {
		create(t, testutil.TrenchSet(ns, fmt.Sprintf("b%d", i))...)
	}
	op := startOperatorWithDelay(t, ns, url, filepath.Join(t.TempDir(), "clone"), 200*time.Millisecond)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		var list meridiov1.TrenchList
		require.NoError(col, c.List(ctx, &list, client.InNamespace(ns)))
		for _, tr := range list.Items {
			assert.NotEmpty(col, tr.Status.Revision, tr.Name)
		}
	}, 2*time.Minute, 200*time.Millisecond)
	backlog := commitCount(t, bare)
	t.Logf("%d trenches from a backlog: %d commits:\n%s", trenches, backlog, testutil.GitOutput(bare, "log", "--format=%ad %s", "--date=format:%T", "main"))
	if !assert.LessOrEqual(t, backlog, 5) {
		for _, l := range strings.Split(op.logs.String(), "\n") {
			if strings.Contains(l, "rror") {
				t.Log(l)
			}
		}
	}

	// A burst of 1,000 updates: 20 edits of each trench's Flow, 8 writers.
	const edits = 20
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("f-b%d", i%trenches)}
				port := strconv.Itoa(10000 + i/trenches)
				assert.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
					f := &meridiov1.Flow{}
					if err := c.Get(ctx, key, f); err != nil {
						return err
					}
					f.Spec.DestinationPorts = []string{port}
					return c.Update(ctx, f)
				}))
			}
		}()
	}
	for i := range trenches * edits {
		work <- i
	}
	close(work)
	wg.Wait()
	last := strconv.Itoa(10000 + edits - 1)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		for i := range trenches {
			data := testutil.GitOutput(bare, "show", fmt.Sprintf("main:clusters/prod/%s/b%d/configmap-meridio-configuration-b%d.yaml", ns, i, i))
			assert.Contains(col, data, "- \""+last+"\"", "trench b%d has the last edit", i)
		}
	}, 2*time.Minute, 500*time.Millisecond)
	burst := commitCount(t, bare) - backlog
	t.Logf("%d updates: %d commits", trenches*edits, burst)
	assert.Less(t, burst, trenches*edits/10, "far fewer commits than updates")

	// A label on a Vip changes no render: no commit.
	time.Sleep(time.Second)
	before := commitCount(t, bare)
	// The operator may be writing the Vip's status meanwhile: retry on a conflict.
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		v := &meridiov1.Vip{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "v-b0"}, v); err != nil {
			return err
		}
		v.Labels["team"] = "blue"
		return c.Update(ctx, v)
	}))
	time.Sleep(time.Second)
	assert.Equal(t, before, commitCount(t, bare), "a render-neutral change makes no commit")
	assert.False(t, strings.Contains(testutil.GitOutput(bare, "log", "--format=%s", "main"), "team"))
}
