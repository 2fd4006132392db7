package render_test

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// loadExample reads one example file into its trench snapshots (defaulted and validated).
func loadExample(t testing.TB, name string) []*meridiov1.Snapshot {
	t.Helper()
	res, errs := offline.ReadPaths([]string{filepath.Join("..", "examples", name)}, nil)
	require.Empty(t, errs)
	snaps, errs := offline.Snapshots(res, "default")
	require.Empty(t, errs)
	require.NotEmpty(t, snaps)
	return snaps
}

func examples(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

func renderAll(t testing.TB, snaps []*meridiov1.Snapshot, set render.Settings) []*render.Result {
	t.Helper()
	var out []*render.Result
	for _, s := range snaps {
		res, err := render.Render(s, set)
		require.NoError(t, err)
		out = append(out, res)
	}
	return out
}

// Test_golden compares the file layout of every example with testdata/<example>/.
// Run `go test ./render -update` to rewrite them, then review the diff.
func Test_golden(t *testing.T) {
	for _, ex := range examples(t) {
		t.Run(ex, func(t *testing.T) {
			files, err := render.Files(renderAll(t, loadExample(t, ex), render.DefaultSettings()))
			require.NoError(t, err)
			dir := filepath.Join("testdata", strings.TrimSuffix(ex, ".yaml"))
			if *update {
				require.NoError(t, os.RemoveAll(dir))
				for p, data := range files {
					full := filepath.Join(dir, p)
					require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
					require.NoError(t, os.WriteFile(full, data, 0o644))
				}
			}
			var want []string
			require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					want = append(want, filepath.ToSlash(rel))
				}
				return err
			}))
			got := make([]string, 0, len(files))
			for p := range files {
				got = append(got, p)
			}
			sort.Strings(got)
			require.Equal(t, want, got, "files differ from %s (run with -update and review)", dir)
			for _, p := range got {
				golden, err := os.ReadFile(filepath.Join(dir, p))
				require.NoError(t, err)
				assert.Equal(t, string(golden), string(files[p]), "%s differs from the golden file", p)
			}
		})
	}
}

func marshalAll(t testing.TB, res []*render.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range res {
		for _, it := range r.Items {
			data, err := render.MarshalYAML(it.Object)
			require.NoError(t, err)
			buf.Write(data)
		}
	}
	return buf.Bytes()
}

func shuffle[T any](r *rand.Rand, s []T) {
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// Test_deterministic renders every example twice, the second time from shuffled input
// (Snapshot.Sort restores the order, as snapshot.Load does), and expects identical bytes.
func Test_deterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, ex := range examples(t) {
		first := marshalAll(t, renderAll(t, loadExample(t, ex), render.DefaultSettings()))
		for range 5 {
			snaps := loadExample(t, ex)
			for _, s := range snaps {
				shuffle(rng, s.Attractors)
				shuffle(rng, s.Gateways)
				shuffle(rng, s.Vips)
				shuffle(rng, s.Conduits)
				shuffle(rng, s.Streams)
				shuffle(rng, s.Flows)
				s.Sort()
			}
			assert.Equal(t, string(first), string(marshalAll(t, renderAll(t, snaps, render.DefaultSettings()))), ex)
		}
	}
}

// byName indexes rendered objects by kind/name.
func byName(res *render.Result) map[string]client.Object {
	m := map[string]client.Object{}
	for _, it := range res.Items {
		m[it.Object.GetObjectKind().GroupVersionKind().Kind+"/"+it.Object.GetName()] = it.Object
	}
	return m
}

// changedObjects returns the kind/names whose YAML differs between two renders.
func changedObjects(t *testing.T, a, b *render.Result) []string {
	t.Helper()
	am, bm := byName(a), byName(b)
	var changed []string
	for k, ao := range am {
		bo, ok := bm[k]
		if !ok {
			changed = append(changed, k)
			continue
		}
		ay, err := render.MarshalYAML(ao)
		require.NoError(t, err)
		by, err := render.MarshalYAML(bo)
		require.NoError(t, err)
		if !bytes.Equal(ay, by) {
			changed = append(changed, k)
		}
	}
	for k := range bm {
		if _, ok := am[k]; !ok {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// Test_flowChangeOnlyTouchesConfigMap: editing a Flow changes the trench ConfigMap and nothing else.
func Test_flowChangeOnlyTouchesConfigMap(t *testing.T) {
	set := render.DefaultSettings()
	s := loadExample(t, "trench-a.yaml")[0]
	before, err := render.Render(s, set)
	require.NoError(t, err)
	s.Flows[0].Spec.DestinationPorts = []string{"8080"}
	s.Flows[0].Spec.Priority = 7
	after, err := render.Render(s, set)
	require.NoError(t, err)
	assert.Equal(t, []string{"ConfigMap/meridio-configuration-trench-a"}, changedObjects(t, before, after))
}

// Test_trenchIsolation: changing one trench never changes another trench's output.
func Test_trenchIsolation(t *testing.T) {
	set := render.DefaultSettings()
	a := loadExample(t, "trench-a.yaml")[0]
	v4 := loadExample(t, "ipv4-only.yaml")[0]
	before := marshalAll(t, renderAll(t, []*meridiov1.Snapshot{v4}, set))
	a.Attractors[0].Spec.Replicas = new(int32(5))
	a.Trench.Spec.IPFamily = meridiov1.IPv4
	a.Conduits = nil
	_ = renderAll(t, []*meridiov1.Snapshot{a}, set)
	after := marshalAll(t, renderAll(t, []*meridiov1.Snapshot{v4}, set))
	assert.Equal(t, string(before), string(after))
}

// Test_expectedObjects checks the object set SPEC §2.1 lists for trench-a.
func Test_expectedObjects(t *testing.T) {
	res := renderAll(t, loadExample(t, "trench-a.yaml"), render.DefaultSettings())[0]
	var got []string
	for _, it := range res.Items {
		got = append(got, it.Object.GetObjectKind().GroupVersionKind().Kind+"/"+it.Object.GetName()+" <- "+it.Owner.Kind+"/"+it.Owner.Name)
	}
	assert.Equal(t, []string{
		"ConfigMap/meridio-configuration-trench-a <- Trench/trench-a",
		"Service/ipam-service-trench-a <- Trench/trench-a",
		"Service/nsp-service-trench-a <- Trench/trench-a",
		"StatefulSet/ipam-trench-a <- Trench/trench-a",
		"StatefulSet/nsp-trench-a <- Trench/trench-a",
		"Deployment/nse-vlan-attr1 <- Attractor/attr1",
		"Deployment/stateless-lb-frontend-attr1 <- Attractor/attr1",
		"DaemonSet/proxy-conduit-stateless <- Conduit/conduit-stateless",
		"PodDisruptionBudget/pdb-attr1 <- Attractor/attr1",
	}, got)
	for _, it := range res.Items {
		l := it.Object.GetLabels()
		assert.Equal(t, "meridio-operator", l[render.LabelManagedBy], it.Object.GetName())
		assert.Equal(t, "trench-a", l[render.LabelPartOf], it.Object.GetName())
		assert.Equal(t, "trench-a", l[render.LabelTrench], it.Object.GetName())
		assert.Len(t, it.Object.GetAnnotations()[render.AnnotationHash], 32, it.Object.GetName())
		assert.Empty(t, it.Object.GetOwnerReferences(), "renders carry nothing cluster-specific")
	}
}

// Test_prefixAndSettings: the name prefix, images, pull secrets and log level reach every
// object they should.
func Test_prefixAndSettings(t *testing.T) {
	set := render.DefaultSettings()
	set.NamePrefix = "x-"
	set.Registry, set.Version = "reg.example", "v9"
	set.ImagePullSecrets = []string{"s1", "s2"}
	set.LogLevel = "INFO"
	res := renderAll(t, loadExample(t, "trench-a.yaml"), set)[0]
	assert.Equal(t, "x-meridio-configuration-trench-a", res.Configuration.GetName(), "the ConfigMap that carries the configuration")
	assert.Contains(t, res.Items, render.Item{Object: res.Configuration, Owner: res.Items[0].Owner})
	assert.NotEqual(t, render.DefaultSettings().Digest(), set.Digest(), "the digest follows the settings")
	for _, it := range res.Items {
		assert.True(t, strings.HasPrefix(it.Object.GetName(), "x-"), it.Object.GetName())
		spec := podSpec(it.Object)
		if spec == nil {
			continue
		}
		assert.Equal(t, []corev1.LocalObjectReference{{Name: "s1"}, {Name: "s2"}}, spec.ImagePullSecrets, it.Object.GetName())
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			assert.True(t, strings.HasPrefix(c.Image, "reg.example/"), c.Image)
			for _, e := range c.Env {
				if strings.HasSuffix(e.Name, "_LOG_LEVEL") {
					assert.Equal(t, "INFO", e.Value, c.Name)
				}
				if strings.Contains(e.Value, "service-trench-a") {
					assert.Contains(t, e.Value, "x-", "%s %s", c.Name, e.Name)
				}
			}
		}
	}
	proxy := byName(res)["DaemonSet/x-proxy-conduit-stateless"].(*appsv1.DaemonSet)
	assert.Contains(t, proxy.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "NSM_NSP_SERVICE_NAME", Value: "x-nsp-service"})
}

func podSpec(o client.Object) *corev1.PodSpec {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &w.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &w.Spec.Template.Spec
	}
	return nil
}

// Test_resourceTemplates: annotations pick built-in templates per container, user templates
// override them, and an unknown name is reported without requirements.
func Test_resourceTemplates(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "proxy"), []byte(`templates:
- name: medium
  resources:
    requests: {cpu: 1m, memory: 1Mi}
- name: tiny
  resources:
    limits: {cpu: 2m}
`), 0o644))
	set, err := render.SettingsFromEnv(func(string) (string, bool) { return "", false }, dir)
	require.NoError(t, err)
	res := renderAll(t, loadExample(t, "ipv4-only.yaml"), set)[0]
	objs := byName(res)
	nsp := podSpec(objs["StatefulSet/nsp-trench-v4"]).Containers[0]
	assert.Equal(t, "100m", nsp.Resources.Requests.Cpu().String())
	assert.Equal(t, "40Mi", nsp.Resources.Limits.Memory().String())
	lb := podSpec(objs["Deployment/stateless-lb-frontend-v4-attractor"])
	assert.Equal(t, "4", lb.Containers[0].Resources.Limits.Cpu().String(), "stateless-lb large")
	assert.Empty(t, lb.InitContainers[0].Resources, "init containers never get resources")
	assert.Equal(t, "large", objs["Deployment/stateless-lb-frontend-v4-attractor"].GetAnnotations()[meridiov1.ResourceTemplateAnnotation])
	proxy := podSpec(objs["DaemonSet/proxy-v4-conduit"]).Containers[0]
	assert.Equal(t, "1m", proxy.Resources.Requests.Cpu().String(), "the user's medium overrides the built-in one")
	assert.Empty(t, res.Problems)

	s := loadExample(t, "ipv4-only.yaml")[0]
	s.Conduits[0].Annotations[meridiov1.ResourceTemplateAnnotation] = "xlarge"
	res = renderAll(t, []*meridiov1.Snapshot{s}, set)[0]
	require.Len(t, res.Problems, 1)
	assert.Equal(t, render.Problem{Owner: render.Owner{Kind: "Conduit", Name: "v4-conduit"}, Reason: render.ReasonResourceTemplateNotFound,
		Message: `resource template "xlarge" not found for container proxy (known: [large medium small tiny])`}, res.Problems[0])
	assert.Empty(t, podSpec(byName(res)["DaemonSet/proxy-v4-conduit"]).Containers[0].Resources)
}

// Test_invalidAttractorReported: an attractor that bypassed admission without a conduit is
// reported and its workloads left out, instead of crashing as the reference does.
func Test_invalidAttractorReported(t *testing.T) {
	s := loadExample(t, "trench-a.yaml")[0]
	s.Attractors[0].Spec.Composites = nil
	res, err := render.Render(s, render.DefaultSettings())
	require.NoError(t, err)
	require.Len(t, res.Problems, 1)
	assert.Equal(t, render.ReasonInvalidSpec, res.Problems[0].Reason)
	assert.NotContains(t, byName(res), "Deployment/stateless-lb-frontend-attr1")
	assert.Contains(t, byName(res), "ConfigMap/meridio-configuration-trench-a")
}
