package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// Client-side rate limits of the operator and of the floor client in the backlog scenario: high
// enough that the API server, not a token bucket, is what both wait for.
const (
	backlogQPS   = "1000"
	backlogBurst = "2000"
	// floorWorkers is how many objects the floor client creates at once (the operator's
	// default number of concurrent reconciles).
	floorWorkers = 4
)

// auditPolicy records every write in the benchmark's namespaces with its request and response
// (the response's resourceVersion tells a write that changed nothing), and nothing else.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: RequestResponse
  verbs: [create, update, patch, delete, deletecollection]
  namespaces: [%s]
- level: None
`

// backlogEnv is an API server with no webhook and an audit log of the benchmark's writes.
type backlogEnv struct {
	*localapi.Env
	auditLog string
}

// backlogNamespaces are the namespaces the audit policy covers.
func backlogNamespaces() []string {
	var out []string
	for _, n := range backlogSizes {
		for r := range backlogRounds(n) {
			out = append(out, backlogRound(n, r).namespaces()...)
		}
	}
	return out
}

// startBacklogEnv starts an API server for the benchmark; it is stopped when the benchmark ends
// (an API server left running would skew every later measurement on this machine).
func startBacklogEnv(b *testing.B) *backlogEnv { return startAuditEnv(b, backlogNamespaces()) }

// startAuditEnv starts an API server with no webhook that audits the writes in the namespaces
// given; it is stopped when the benchmark ends.
func startAuditEnv(b *testing.B, namespaces []string) *backlogEnv {
	dir := b.TempDir()
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, fmt.Appendf(nil, auditPolicy, strings.Join(namespaces, ", ")), 0o600); err != nil {
		b.Fatal(err)
	}
	log := filepath.Join(dir, "audit.log")
	e, err := localapi.Start(localapi.Options{NoWebhooks: true, APIServerArgs: map[string]string{
		"audit-policy-file": policy, "audit-log-path": log, "audit-log-format": "json", "audit-log-mode": "blocking",
		// Never rotated (the default rotates at 100 MB, which a few rounds of N=200 exceed).
		"audit-log-maxsize": "100000",
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Stop() })
	return &backlogEnv{Env: e, auditLog: log}
}

// auditEvent is what the benchmark reads of one audit log line.
type auditEvent struct {
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	ResponseObject *struct {
		Metadata struct {
			Name            string `json:"name"`
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	} `json:"responseObject"`
	StageTimestamp metav1.MicroTime `json:"stageTimestamp"`
}

// writeStats are the writes of one client in one namespace, as the API server recorded them.
type writeStats struct {
	byKind map[string]int // "verb resource[/subresource]"
	// early counts the writes by kind up to the time given to readWrites.
	early     map[string]int
	noopKinds map[string]int
	total     int
	noops     int
	first     time.Time
	last      time.Time
}

// readWrites reads the audit log: the successful writes in namespace by clients whose user agent
// starts with agent. A write whose response has the resourceVersion the object already had
// changed nothing.
func readWrites(b *testing.B, log, namespace, agent string, until ...time.Time) writeStats {
	f, err := os.Open(log)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st := writeStats{byKind: map[string]int{}, noopKinds: map[string]int{}, early: map[string]int{}}
	rv := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			b.Fatal(err)
		}
		if e.ObjectRef == nil || e.ObjectRef.Namespace != namespace || e.ResponseStatus == nil || e.ResponseStatus.Code >= 300 {
			continue
		}
		name := e.ObjectRef.Name
		if name == "" && e.ResponseObject != nil {
			name = e.ResponseObject.Metadata.Name
		}
		key := e.ObjectRef.Resource + "/" + name
		newRV := ""
		if e.ResponseObject != nil {
			newRV = e.ResponseObject.Metadata.ResourceVersion
		}
		noop := newRV != "" && rv[key] == newRV
		if newRV != "" {
			rv[key] = newRV
		}
		if !strings.HasPrefix(e.UserAgent, agent) {
			continue
		}
		kind := e.Verb + " " + e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			kind += "/" + e.ObjectRef.Subresource
		}
		st.byKind[kind]++
		st.total++
		if len(until) > 0 && !e.StageTimestamp.Time.After(until[0]) {
			st.early[kind]++
		}
		if noop {
			st.noops++
			st.noopKinds[kind]++
		}
		if t := e.StageTimestamp.Time; t.After(st.last) {
			st.last = t
		}
		if t := e.StageTimestamp.Time; st.first.IsZero() || t.Before(st.first) {
			st.first = t
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return st
}

func (s writeStats) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.byKind)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, s.byKind[k]))
	}
	s2 := strings.Join(parts, ", ")
	if s.noops > 0 {
		s2 += fmt.Sprintf("; changed nothing: %v", s.noopKinds)
	}
	return s2
}

// trenchSets are the resources of n trench sets in namespace, defaulted as admission would
// (the benchmark's API server has no webhook), and what the operator renders of them.
func trenchSets(b *testing.B, namespace string, n int) ([]offline.Resource, []*render.Result) {
	var docs []string
	for i := range n {
		docs = append(docs, testutil.TrenchSet(namespace, fmt.Sprintf("t%03d", i))...)
	}
	res, errs := offline.Decode("sets.yaml", strings.NewReader(strings.Join(docs, "---\n")))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return res, testutil.Render(b, res, namespace)
}

// presence watches the workload objects of a namespace and records when every expected object
// exists and every ConfigMap holds its expected data.
type presence struct {
	done chan time.Time
	// trenchDone is when each trench had all its objects (first time), by trench name; read
	// it once done has fired.
	trenchDone map[string]time.Time
	// missing tells what is not there yet, for a timeout's message.
	missing func() string
}

func watchPresence(b *testing.B, cfg *rest.Config, namespace string, want []*render.Result) *presence {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	c, err := cache.New(cfg, cache.Options{Scheme: localapi.Scheme(), DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		b.Fatal(err)
	}
	ids := map[string]string{} // object ID → trench
	byTrench := map[string][]string{}
	data := map[string]map[string]string{}
	cmTrench := map[string]string{}
	for _, r := range want {
		for _, it := range r.Items {
			id := render.ID(it.Object)
			ids[id] = r.Trench
			byTrench[r.Trench] = append(byTrench[r.Trench], id)
		}
		cm := r.Configuration.(*corev1.ConfigMap)
		data[cm.Name] = cm.Data
		cmTrench[r.Trench] = cm.Name
	}
	var mu sync.Mutex
	mismatch := ""
	seen := map[string]bool{}
	complete := map[string]bool{}
	p := &presence{done: make(chan time.Time, 1), trenchDone: map[string]time.Time{}}
	p.missing = func() string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for id := range ids {
			if !seen[id] {
				out = append(out, id)
			}
		}
		for name := range data {
			if !complete[name] {
				out = append(out, "incomplete ConfigMap/"+name)
			}
		}
		sort.Strings(out)
		return fmt.Sprintf("%d missing (%s): %.2000s", len(out), mismatch, strings.Join(out, ", "))
	}
	// Objects from an informer carry no kind: it comes with the informer.
	check := func(kind string, obj any, gone bool) {
		o, ok := obj.(client.Object)
		if !ok {
			return
		}
		id := kind + "/" + o.GetName()
		mu.Lock()
		defer mu.Unlock()
		trench, ok := ids[id]
		if !ok {
			return
		}
		seen[id] = !gone
		if cm, ok := o.(*corev1.ConfigMap); ok {
			complete[cm.Name] = !gone && reflect.DeepEqual(cm.Data, data[cm.Name])
			if !complete[cm.Name] && !gone {
				for k, v := range data[cm.Name] {
					if cm.Data[k] != v {
						mismatch = fmt.Sprintf("%s %s: %q != %q", cm.Name, k, cm.Data[k], v)
					}
				}
			}
		}
		if _, done := p.trenchDone[trench]; done || !complete[cmTrench[trench]] {
			return
		}
		for _, id := range byTrench[trench] {
			if !seen[id] {
				return
			}
		}
		p.trenchDone[trench] = time.Now()
		if len(p.trenchDone) == len(byTrench) {
			p.done <- time.Now()
		}
	}
	for _, l := range render.KindLists() {
		item := listItem(l)
		kind := reflect.TypeOf(item).Elem().Name()
		inf, err := c.GetInformer(ctx, item)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { check(kind, o, false) },
			UpdateFunc: func(_, o any) { check(kind, o, false) },
			DeleteFunc: func(o any) { check(kind, o, true) },
		}); err != nil {
			b.Fatal(err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		b.Fatal("presence cache did not sync")
	}
	return p
}

// listItem is an empty object of the kind a list holds.
func listItem(l client.ObjectList) client.Object {
	t := reflect.TypeOf(l).Elem()
	f, _ := t.FieldByName("Items")
	return reflect.New(f.Type.Elem()).Interface().(client.Object)
}

func (p *presence) wait(b *testing.B, timeout time.Duration) time.Time {
	select {
	case t := <-p.done:
		return t
	case <-time.After(timeout):
		b.Fatal("the objects did not all appear: " + p.missing())
		return time.Time{}
	}
}

// settle pauses before a measurement, so that it does not pay for the API server's work on
// what came just before (storing a few thousand resources, deleting Services); then, as the
// testing package does before each benchmark, it has the API server collect its garbage, so that
// no collection the runs before made due falls in this one (a collection of the API server's
// heap, which grows with each round, takes a good part of a second of CPU).
func settle(b *testing.B, e *backlogEnv) {
	time.Sleep(time.Second)
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/heap").Param("gc", "1").DoRaw(context.Background()); err != nil {
		b.Fatalf("collect the API server's garbage: %v", err)
	}
}

// floorClient is the bare client of the floors, with the operator's client-side rate limit.
func floorClient(b *testing.B, e *backlogEnv) client.Client {
	cfg := rest.CopyConfig(e.Config)
	cfg.UserAgent = "floor"
	cfg.QPS, cfg.Burst = float32(mustFloat(backlogQPS)), int(mustFloat(backlogBurst))
	c, err := client.New(cfg, client.Options{Scheme: localapi.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// writeAll makes the writes, in order, with floorWorkers of them in flight at once.
func writeAll(b *testing.B, writes []func(context.Context) error) {
	next := make(chan func(context.Context) error)
	var wg sync.WaitGroup
	errs := make(chan error, floorWorkers)
	for range floorWorkers {
		wg.Go(func() {
			for w := range next {
				if err := w(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for _, w := range writes {
		next <- w
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// renderedWrites are the creates of the rendered objects by c (server-side applies when apply is
// true), one write per object.
func renderedWrites(c client.Client, want []*render.Result, apply bool) []func(context.Context) error {
	var writes []func(context.Context) error
	for _, r := range want {
		for _, it := range r.Items {
			o := it.Object.DeepCopyObject().(client.Object)
			writes = append(writes, func(ctx context.Context) error {
				if apply {
					m, _ := render.Clean(o)
					return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m}), client.FieldOwner("floor"), client.ForceOwnership)
				}
				return c.Create(ctx, o)
			})
		}
	}
	return writes
}

// store creates the Meridio resources, untimed.
func store(b *testing.B, e *backlogEnv, crs []offline.Resource) {
	for _, r := range crs {
		if err := e.Client.Create(context.Background(), r.Object); err != nil {
			b.Fatal(err)
		}
	}
}

// floor creates the rendered objects with workers concurrent creates (server-side applies when
// apply is true), as a bare client would, and returns how long it took until the watch saw
// them all.
func floor(b *testing.B, e *backlogEnv, namespace string, want []*render.Result, apply bool) time.Duration {
	p := watchPresence(b, e.Config, namespace, want)
	writes := renderedWrites(floorClient(b, e), want, apply)
	settle(b, e)
	start := time.Now()
	writeAll(b, writes)
	return p.wait(b, 2*time.Minute).Sub(start)
}

// bookkeepingFloor is the floor of every write SPEC requires, not only of the workloads: the
// creates of floor, then on the resources themselves an owner reference to their trench (six
// per trench) and a status (seven per trench), each write one merge patch by the bare client,
// with floorWorkers in flight, in that order (as the operator orders them). It returns how
// long until the last write was answered. The resources are stored first, untimed. It is a low
// floor: its ConfigMaps are created (the operator applies them) and it records no events.
func bookkeepingFloor(b *testing.B, e *backlogEnv, namespace string, n int) time.Duration {
	crs, want := trenchSets(b, namespace, n)
	store(b, e, crs)
	c := floorClient(b, e)
	writes := renderedWrites(c, want, false)
	trenches := map[string]types.UID{}
	for _, r := range crs {
		if t, ok := r.Object.(*meridiov1.Trench); ok {
			trenches[t.Name] = t.UID
		}
	}
	patch := func(o client.Object, status bool, body string) func(context.Context) error {
		return func(ctx context.Context) error {
			p := client.RawPatch(types.MergePatchType, []byte(body))
			if status {
				return c.Status().Patch(ctx, o, p)
			}
			return c.Patch(ctx, o, p)
		}
	}
	for _, r := range crs {
		if t := r.Object.GetLabels()[meridiov1.TrenchLabel]; t != "" {
			writes = append(writes, patch(r.Object.DeepCopyObject().(client.Object), false, fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":"Trench","name":%q,"uid":%q}]}}`,
				meridiov1.GroupVersion.String(), t, trenches[t])))
		}
	}
	now := metav1.Now().UTC().Format(time.RFC3339)
	for _, r := range crs {
		writes = append(writes, patch(r.Object.DeepCopyObject().(client.Object), true, fmt.Sprintf(`{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"all objects are live and healthy","lastTransitionTime":%q,"observedGeneration":1}]}}`, now)))
	}
	settle(b, e)
	start := time.Now()
	writeAll(b, writes)
	return time.Since(start)
}

func mustFloat(s string) float64 {
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		panic(err)
	}
	return f
}

// deleteServices deletes the Services of a namespace once its run is measured. Each Service
// create allocates a cluster IP, and the allocator counts every address already allocated, at
// every create: without this, each run would pay for the Services of the runs before it.
func deleteServices(b *testing.B, e *backlogEnv, namespace string) {
	if err := e.Client.DeleteAllOf(context.Background(), &corev1.Service{}, client.InNamespace(namespace)); err != nil {
		b.Fatal(err)
	}
}

// backlogRun is what one start of the operator binary with a backlog gave.
type backlogRun struct {
	start              time.Time
	present, lastWrite time.Duration
	writes             writeStats
	cpu                time.Duration
	maxRSS             int64 // bytes
}

// runOperatorBacklog stores the trench sets, starts the operator binary, and measures until
// every object is present and its writes have stopped.
func runOperatorBacklog(b *testing.B, e *backlogEnv, namespace string, n int) backlogRun {
	crs, want := trenchSets(b, namespace, n)
	store(b, e, crs)
	p := watchPresence(b, e.Config, namespace, want)
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, e.KubeConfig, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(testutil.OperatorBinary(b), "run", "--namespace", namespace, "--enable-webhooks=false",
		"--metrics-bind-address", "0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", testutil.FreePort(b)),
		"--kube-api-qps", backlogQPS, "--kube-api-burst", backlogBurst, "--log-level", "error",
		"--pprof-bind-address", os.Getenv("BACKLOG_PPROF"))
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	settle(b, e)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill() })
	present := p.wait(b, 3*time.Minute).Sub(start)
	waitQuiet(b, e.auditLog, 2*time.Second)
	st := readWrites(b, e.auditLog, namespace, "meridio-operator", start.Add(present))
	rss := peakRSS(b, cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("operator: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return backlogRun{start: start, present: present, lastWrite: st.last.Sub(start), writes: st, cpu: cpu, maxRSS: rss}
}

// waitQuiet returns once the audit log has not grown for quiet: the writes have stopped (the
// benchmark makes none meanwhile). It only looks at the file's size: reading the log while the
// operator works would take CPU from the operator and the API server.
func waitQuiet(b *testing.B, log string, quiet time.Duration) {
	var size int64
	changed := time.Now()
	for time.Since(changed) < quiet {
		time.Sleep(100 * time.Millisecond)
		fi, err := os.Stat(log)
		if err != nil {
			b.Fatal(err)
		}
		if fi.Size() != size {
			size, changed = fi.Size(), time.Now()
		}
	}
}

// peakRSS is the peak resident set of a running process, in bytes. The rusage of a process that
// ended is no measure of it: Linux counts in it the RSS of the parent that started it (this
// benchmark, which grows with every run), as it was when the child began.
func peakRSS(b *testing.B, pid int) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// backlogSizes are the numbers of trenches of the backlog benchmark.
var backlogSizes = []int{50, 200}

// backlogRounds is how many times each size is measured, floors and operator alternating, in
// namespaces of their own: the benchmark reports the medians. One measurement of a second or
// two on this machine varies by up to a third from run to run (more rounds for the shorter).
func backlogRounds(n int) int {
	if n <= 50 {
		return 5
	}
	return 3
}

// backlogNS names the namespaces of one round of one size.
type backlogNS struct{ floor, floorApply, floorAll, operator string }

func backlogRound(n, round int) backlogNS {
	return backlogNS{
		floor:      fmt.Sprintf("floor-%d-%d", n, round),
		floorApply: fmt.Sprintf("floor-apply-%d-%d", n, round),
		floorAll:   fmt.Sprintf("floor-all-%d-%d", n, round),
		operator:   fmt.Sprintf("backlog-%d-%d", n, round),
	}
}

func (ns backlogNS) namespaces() []string {
	return []string{ns.floor, ns.floorApply, ns.floorAll, ns.operator}
}

// median is the middle of xs (the mean of the two middle ones for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkBacklog: N trenches (7 resources each, the full example set, rendering 9 objects) are stored before the
// operator binary starts, with no webhook registered. It reports the time until every workload
// object exists and every ConfigMap is complete, the time of its last write, its writes as the
// API server's audit log counts them (and those that changed nothing), its CPU time and peak
// RSS; and, in the same run, the floor: a bare client creating the same rendered objects with
// 4 workers, and a second floor that server-side applies them instead (what the operator must do
// to own their fields, and costlier for the API server than a create). All have the same
// client-side rate limit. Each is measured backlogRounds times, alternating; times are medians,
// peak RSS, writes per object and noop writes the most of any round. present/floor is the ratio of the
// medians; present/floor-same-round the median of each round's own ratio.
func BenchmarkBacklog(b *testing.B) {
	e := startBacklogEnv(b)
	for _, n := range backlogSizes {
		b.Run(fmt.Sprintf("trenches=%d", n), func(b *testing.B) {
			if b.N > 1 {
				b.Skip("one run per namespace: use -benchtime 1x")
			}
			var floors, floorApplies, floorAlls, present, firstWrite, lastWrite, cpu []float64
			var runs []backlogRun
			var paired []float64
			for r := range backlogRounds(n) {
				ns := backlogRound(n, r)
				for _, name := range ns.namespaces() {
					if err := e.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
						b.Fatal(err)
					}
				}
				_, want := trenchSets(b, ns.floor, n)
				floors = append(floors, floor(b, e, ns.floor, want, false).Seconds())
				deleteServices(b, e, ns.floor)
				_, want = trenchSets(b, ns.floorApply, n)
				floorApplies = append(floorApplies, floor(b, e, ns.floorApply, want, true).Seconds())
				deleteServices(b, e, ns.floorApply)
				floorAlls = append(floorAlls, bookkeepingFloor(b, e, ns.floorAll, n).Seconds())
				deleteServices(b, e, ns.floorAll)
				run := runOperatorBacklog(b, e, ns.operator, n)
				deleteServices(b, e, ns.operator)
				runs = append(runs, run)
				present = append(present, run.present.Seconds())
				firstWrite = append(firstWrite, run.writes.first.Sub(run.start).Seconds())
				lastWrite = append(lastWrite, run.lastWrite.Seconds())
				cpu = append(cpu, run.cpu.Seconds())
				paired = append(paired, present[r]/floors[r])
				b.Logf("N=%d round %d: floor %.2fs, apply floor %.2fs, floor of all writes %.2fs, first write %.2fs, present %.2fs (%.2fx), last write %.2fs, %d writes, cpu %.2fs, peak RSS %d MiB", n, r+1,
					floors[r], floorApplies[r], floorAlls[r], firstWrite[r], present[r], present[r]/floors[r], lastWrite[r], run.writes.total, cpu[r], run.maxRSS>>20)
			}
			fl, flApply := median(floors), median(floorApplies)
			objects := float64(9 * n)
			b.ReportMetric(fl, "floor-s")
			b.ReportMetric(median(present), "present-s")
			b.ReportMetric(median(present)/fl, "present/floor")
			b.ReportMetric(median(paired), "present/floor-same-round")
			b.ReportMetric(flApply, "floor-apply-s")
			b.ReportMetric(median(present)/flApply, "present/floor-apply")
			b.ReportMetric(median(firstWrite), "first-write-s")
			b.ReportMetric(median(lastWrite), "last-write-s")
			b.ReportMetric(median(lastWrite)/fl, "last-write/floor")
			b.ReportMetric(median(floorAlls), "floor-all-writes-s")
			b.ReportMetric(median(lastWrite)/median(floorAlls), "last-write/floor-all-writes")
			b.ReportMetric(float64(slices.MaxFunc(runs, func(a, b backlogRun) int { return a.writes.total - b.writes.total }).writes.total)/objects, "writes/object")
			b.ReportMetric(float64(slices.MaxFunc(runs, func(a, b backlogRun) int { return a.writes.noops - b.writes.noops }).writes.noops), "noop-writes")
			b.ReportMetric(median(cpu), "cpu-s")
			b.ReportMetric(float64(slices.MaxFunc(runs, func(a, b backlogRun) int { return int(a.maxRSS - b.maxRSS) }).maxRSS)/(1<<20), "peak-rss-MiB")
			last := runs[len(runs)-1]
			b.Logf("N=%d writes of round %d (%d): %s", n, len(runs), last.writes.total, last.writes)
			b.Logf("N=%d writes of round %d until every object was present: %v", n, len(runs), last.writes.early)
		})
	}
}
