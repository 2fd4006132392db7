package testutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// OperatorAccount is the service account tests run the operator as.
const OperatorAccount = "meridio-operator"

// BindOperatorRole creates, in namespace, the Roles of config/ files (relative to the
// repository root; other documents of a file are skipped) and binds them to the operator's
// service account, so that a test runs the operator with exactly the rights it is deployed with.
func BindOperatorRole(ctx context.Context, c client.Client, namespace string, roleFiles ...string) error {
	for i, f := range roleFiles {
		data, err := os.ReadFile(filepath.Join(RepoRoot(), f))
		if err != nil {
			return err
		}
		var roles []*rbacv1.Role
		for _, doc := range strings.Split(string(data), "\n---\n") {
			role := &rbacv1.Role{}
			if err := yaml.Unmarshal([]byte(doc), role); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if role.Kind == "Role" {
				roles = append(roles, role)
			}
		}
		if len(roles) != 1 {
			return fmt.Errorf("%s: want one Role, found %d", f, len(roles))
		}
		name := fmt.Sprintf("meridio-operator-under-test-%d", i)
		role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: roles[0].Rules}
		if err := c.Create(ctx, role); err != nil {
			return err
		}
		if err := c.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: OperatorAccount, Namespace: namespace}},
		}); err != nil {
			return err
		}
	}
	return nil
}

// AsOperator returns cfg impersonating the operator's service account of namespace.
func AsOperator(cfg *rest.Config, namespace string) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + OperatorAccount,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return out
}
