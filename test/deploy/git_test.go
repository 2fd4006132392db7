package deploy

import (
	"context"
	"path"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	gitNamespace = "meridio-operator-system"
	gitSecret    = "meridio-operator-git"
	operatorSA   = "meridio-operator"
)

// workloadKinds are what the operator renders, which Flux or Argo CD applies in git mode.
var workloadKinds = []struct{ group, resource string }{
	{"", "configmaps"}, {"", "services"}, {"apps", "deployments"}, {"apps", "statefulsets"},
	{"apps", "daemonsets"}, {"policy", "poddisruptionbudgets"},
}

var writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

// Test_gitModeConfig checks config/git (its server-side dry run is in Test_configDryRun): the
// manager runs in git mode with its clone on an emptyDir, no role may write the workloads, and
// the operator may get the one Secret of --git-secret.
func Test_gitModeConfig(t *testing.T) {
	objs := build(t, "git")
	var deployments []appsv1.Deployment
	roles := map[string][]rbacv1.PolicyRule{} // "Kind/name" → rules
	var bindings []rbacv1.RoleBinding
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			fromUnstructured(t, o, &d)
			deployments = append(deployments, d)
		case "Role", "ClusterRole":
			var r rbacv1.ClusterRole // a Role's fields are a subset
			fromUnstructured(t, o, &r)
			roles[o.GetKind()+"/"+o.GetName()] = r.Rules
		case "RoleBinding":
			var b rbacv1.RoleBinding
			fromUnstructured(t, o, &b)
			bindings = append(bindings, b)
		case "ClusterRoleBinding":
			t.Errorf("ClusterRoleBinding %s: the operator is namespaced", o.GetName())
		}
	}

	t.Run("manager", func(t *testing.T) {
		require.Len(t, deployments, 1)
		spec := deployments[0].Spec.Template.Spec
		require.Len(t, spec.Containers, 1)
		c := spec.Containers[0]
		assert.Contains(t, c.Args, "--sink=git")
		flags := map[string]string{}
		for _, a := range c.Args {
			if k, v, ok := strings.Cut(a, "="); ok {
				flags[k] = v
			}
		}
		assert.Equal(t, "main", flags["--git-branch"])
		assert.Equal(t, "clusters/prod", flags["--git-path"])
		assert.Equal(t, gitSecret, flags["--git-secret"])
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
		}
		// --git-url=$(GIT_URL): the kubelet expands it from the container's environment.
		require.Equal(t, "$(GIT_URL)", flags["--git-url"])
		assert.NotEmpty(t, env["GIT_URL"].Value, "GIT_URL holds the placeholder repository")
		assert.Equal(t, "metadata.namespace", env["POD_NAMESPACE"].ValueFrom.FieldRef.FieldPath, "the Secret is read from the pod's namespace")

		// The clone dir (and TMPDIR) on an emptyDir: the root file system is read-only.
		require.NotNil(t, c.SecurityContext)
		assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem)
		emptyDirs := map[string]bool{}
		for _, v := range spec.Volumes {
			emptyDirs[v.Name] = v.EmptyDir != nil
		}
		onEmptyDir := func(dir string) bool {
			for _, m := range c.VolumeMounts {
				if emptyDirs[m.Name] && !m.ReadOnly && (dir == m.MountPath || strings.HasPrefix(dir, m.MountPath+"/")) {
					return true
				}
			}
			return false
		}
		require.NotEmpty(t, flags["--git-clone-dir"])
		assert.True(t, path.IsAbs(flags["--git-clone-dir"]))
		assert.True(t, onEmptyDir(flags["--git-clone-dir"]), "--git-clone-dir=%s is on no writable emptyDir", flags["--git-clone-dir"])
		assert.True(t, onEmptyDir(env["TMPDIR"].Value), "TMPDIR=%s is on no writable emptyDir", env["TMPDIR"].Value)
	})

	t.Run("rules", func(t *testing.T) {
		assert.NotContains(t, roles, "Role/meridio-role", "the generated role writes workloads: replaced in git mode")
		for name, rules := range roles {
			for _, r := range rules {
				for _, w := range workloadKinds {
					for _, verb := range writeVerbs {
						assert.False(t, grants(r, w.group, w.resource, verb), "%s grants %s on %s", name, verb, w.resource)
					}
				}
			}
		}

		// The roles bound to the operator's account.
		var operatorRules []rbacv1.PolicyRule
		for _, b := range bindings {
			for _, s := range b.Subjects {
				if s.Kind == "ServiceAccount" && s.Name == operatorSA && s.Namespace == gitNamespace {
					rules, ok := roles[b.RoleRef.Kind+"/"+b.RoleRef.Name]
					require.True(t, ok, "RoleBinding %s refers to %s %s, which is not built", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
					operatorRules = append(operatorRules, rules...)
				}
			}
		}
		can := func(group, resource, verb string) bool {
			for _, r := range operatorRules {
				if grants(r, group, resource, verb) {
					return true
				}
			}
			return false
		}
		for _, w := range workloadKinds {
			for _, verb := range []string{"get", "list", "watch"} {
				assert.True(t, can(w.group, w.resource, verb), "the operator cannot %s %s", verb, w.resource)
			}
		}
		for _, need := range [][3]string{
			{"meridio.nordix.org", "trenches", "watch"}, {"meridio.nordix.org", "flows", "patch"}, {"meridio.nordix.org", "attractors", "delete"},
			{"meridio.nordix.org", "trenches/status", "patch"}, {"meridio.nordix.org", "vips/status", "update"},
			{"events.k8s.io", "events", "create"}, {"coordination.k8s.io", "leases", "update"},
		} {
			assert.True(t, can(need[0], need[1], need[2]), "the operator lacks %v", need)
		}

		// Secrets: get, and only the one by name.
		var secretRules []rbacv1.PolicyRule
		for _, r := range operatorRules {
			for _, verb := range []string{"get", "list", "watch"} {
				if grants(r, "", "secrets", verb) {
					secretRules = append(secretRules, r)
					break
				}
			}
		}
		require.Len(t, secretRules, 1, "one rule on secrets")
		assert.Equal(t, []string{gitSecret}, secretRules[0].ResourceNames)
		assert.Equal(t, []string{"get"}, secretRules[0].Verbs)
	})

	// What the API server's RBAC authorizer makes of the built roles, for the operator's account.
	t.Run("authorizer", func(t *testing.T) {
		ctx := context.Background()
		require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gitNamespace}})))
		for _, o := range objs {
			if k := o.GetKind(); k != "Role" && k != "RoleBinding" {
				continue
			}
			obj := o.DeepCopy()
			require.NoError(t, env.Client.Create(ctx, obj), "%s %s", o.GetKind(), o.GetName())
			t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
		}
		allowed := func(c *assert.CollectT, verb, group, resource, subresource, name string) bool {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   "system:serviceaccount:" + gitNamespace + ":" + operatorSA,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + gitNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: gitNamespace, Verb: verb, Group: group, Resource: resource, Subresource: subresource, Name: name,
				},
			}}
			if !assert.NoError(c, env.Client.Create(ctx, sar)) {
				return false
			}
			return sar.Status.Allowed
		}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			for _, w := range workloadKinds {
				for _, verb := range writeVerbs {
					assert.False(c, allowed(c, verb, w.group, w.resource, "", ""), "may %s %s", verb, w.resource)
				}
				for _, verb := range []string{"get", "list", "watch"} {
					assert.True(c, allowed(c, verb, w.group, w.resource, "", ""), "may not %s %s", verb, w.resource)
				}
			}
			assert.True(c, allowed(c, "get", "", "secrets", "", gitSecret), "may not get the git secret")
			assert.False(c, allowed(c, "get", "", "secrets", "", "webhook-server-cert"), "may get another secret")
			assert.False(c, allowed(c, "list", "", "secrets", "", ""), "may list secrets")
			assert.False(c, allowed(c, "watch", "", "secrets", "", gitSecret), "may watch secrets")
			assert.True(c, allowed(c, "patch", "meridio.nordix.org", "trenches", "status", "t"), "may not patch trench status")
			assert.True(c, allowed(c, "update", "meridio.nordix.org", "flows", "", "f"), "may not update flows")
			assert.True(c, allowed(c, "create", "events.k8s.io", "events", "", ""), "may not create events")
		}, timeout, tick)
	})
}

// grants tells whether a rule allows verb on group/resource, wildcards included.
func grants(r rbacv1.PolicyRule, group, resource, verb string) bool {
	return (contains(r.APIGroups, group) || contains(r.APIGroups, "*")) &&
		(contains(r.Resources, resource) || contains(r.Resources, "*")) &&
		(contains(r.Verbs, verb) || contains(r.Verbs, "*"))
}

func fromUnstructured(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into), "%s %s", u.GetKind(), u.GetName())
}

// Test_gitVerifyConfig checks config/git-verify: the manager of config/git without
// --git-verify=false, and a Role that adds patch (dry runs) and nothing else on the workloads.
func Test_gitVerifyConfig(t *testing.T) {
	args := func(dir string) []string {
		for _, o := range build(t, dir) {
			if o.GetKind() == "Deployment" {
				var d appsv1.Deployment
				fromUnstructured(t, o, &d)
				return d.Spec.Template.Spec.Containers[0].Args
			}
		}
		t.Fatalf("no Deployment in config/%s", dir)
		return nil
	}
	git, verify := args("git"), args("git-verify")
	require.Contains(t, git, "--git-verify=false")
	assert.NotContains(t, verify, "--git-verify=false")
	assert.Equal(t, len(git)-1, len(verify), "only --git-verify=false is dropped: %v", verify)
	for _, o := range build(t, "git-verify") {
		if o.GetKind() != "Role" || o.GetName() != "meridio-git-verify-role" {
			continue
		}
		var role rbacv1.Role
		fromUnstructured(t, o, &role)
		for _, r := range role.Rules {
			assert.Equal(t, []string{"patch"}, r.Verbs, "%v", r.Resources)
		}
		return
	}
	t.Fatal("no meridio-git-verify-role in config/git-verify")
}
