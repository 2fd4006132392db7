package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Settings are the operator-wide inputs of a render.
type Settings struct {
	// NamePrefix is prepended to every rendered object name (RESOURCE_NAME_PREFIX).
	NamePrefix string
	// Registry, Organization and Version locate the Meridio images:
	// <Registry>/<Organization>/<image>:<Version>.
	Registry     string
	Organization string
	Version      string
	// NSMOrganization and NSMVersion locate the Network Service Mesh images.
	NSMOrganization string
	NSMVersion      string
	// BusyboxVersion is the tag of the busybox image of the sysctl init containers.
	BusyboxVersion string
	// ImagePullSecrets name the Secrets of every rendered pod (IMAGE_PULL_SECRET, comma separated).
	ImagePullSecrets []string
	// NSMRegistryService is where the VLAN NSE registers (NSM_REGISTRY_SERVICE).
	NSMRegistryService string
	// LogLevel is the log level of every Meridio workload (LOG_LEVEL).
	LogLevel string
	// NSPServiceAccount and FEServiceAccount are the service accounts of the NSP and front-end pods.
	NSPServiceAccount string
	FEServiceAccount  string
	// ResourceTemplates maps a container name to its named resource requirements.
	ResourceTemplates map[string]map[string]corev1.ResourceRequirements
}

// Digest names the settings: the same settings give the same digest (JSON sorts map keys).
func (s Settings) Digest() string {
	data, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings, slices and resource quantities always marshal
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Environment variables read by SettingsFromEnv, with their defaults.
var envDefaults = []struct{ name, value string }{
	{"RESOURCE_NAME_PREFIX", ""},
	{"IMAGE_REGISTRY", "registry.nordix.org"},
	{"IMAGE_ORGANIZATION", "cloud-native/meridio"},
	{"MERIDIO_VERSION", "latest"},
	{"NSM_ORGANIZATION", "cloud-native/nsm"},
	{"NSM_VERSION", "v1.5.0"},
	{"BUSYBOX_VERSION", "1.29"},
	{"IMAGE_PULL_SECRET", ""},
	{"NSM_REGISTRY_SERVICE", "nsm-registry-svc.nsm:5002"},
	{"LOG_LEVEL", "DEBUG"},
	{"NSP_SERVICE_ACCOUNT", "meridio-nsp"},
	{"FE_SERVICE_ACCOUNT", "meridio-fes"},
}

// DefaultSettings returns the settings of an operator started with no environment.
func DefaultSettings() Settings {
	s, err := SettingsFromEnv(func(string) (string, bool) { return "", false }, "")
	if err != nil {
		panic(err) // the built-in templates are constant
	}
	return s
}

// SettingsFromEnv reads the settings from environment variables (lookup is os.LookupEnv in the
// operator) and, when templateDir is not empty, user resource templates from that directory.
func SettingsFromEnv(lookup func(string) (string, bool), templateDir string) (Settings, error) {
	v := map[string]string{}
	for _, e := range envDefaults {
		v[e.name] = e.value
		if val, ok := lookup(e.name); ok {
			v[e.name] = val
		}
	}
	s := Settings{
		NamePrefix:         v["RESOURCE_NAME_PREFIX"],
		Registry:           v["IMAGE_REGISTRY"],
		Organization:       v["IMAGE_ORGANIZATION"],
		Version:            v["MERIDIO_VERSION"],
		NSMOrganization:    v["NSM_ORGANIZATION"],
		NSMVersion:         v["NSM_VERSION"],
		BusyboxVersion:     v["BUSYBOX_VERSION"],
		NSMRegistryService: v["NSM_REGISTRY_SERVICE"],
		LogLevel:           v["LOG_LEVEL"],
		NSPServiceAccount:  v["NSP_SERVICE_ACCOUNT"],
		FEServiceAccount:   v["FE_SERVICE_ACCOUNT"],
		ResourceTemplates:  builtinTemplates(),
	}
	for _, name := range strings.Split(v["IMAGE_PULL_SECRET"], ",") {
		if name = strings.TrimSpace(name); name != "" {
			s.ImagePullSecrets = append(s.ImagePullSecrets, name)
		}
	}
	if templateDir != "" {
		if err := s.loadTemplates(templateDir); err != nil {
			return s, err
		}
	}
	return s, nil
}

// templateFile is the format of a user resource-template file, one file per container named
// after it (the reference operator's format).
type templateFile struct {
	Templates []struct {
		Name      string                      `json:"name"`
		Resources corev1.ResourceRequirements `json:"resources"`
	} `json:"templates"`
}

// loadTemplates adds or overrides named templates from dir/<container>.
func (s *Settings) loadTemplates(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read resource templates: %w", err)
	}
	for _, e := range entries {
		container := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".yaml"), ".yml")
		if e.IsDir() || strings.HasPrefix(container, ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read resource templates: %w", err)
		}
		var f templateFile
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			return fmt.Errorf("resource templates %s: %w", e.Name(), err)
		}
		if s.ResourceTemplates[container] == nil {
			s.ResourceTemplates[container] = map[string]corev1.ResourceRequirements{}
		}
		for _, t := range f.Templates {
			s.ResourceTemplates[container][t.Name] = t.Resources
		}
	}
	return nil
}

// TemplateNames lists the template names known for a container, sorted.
func (s *Settings) TemplateNames(container string) []string {
	var names []string
	for n := range s.ResourceTemplates[container] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Settings) meridioImage(name string) string {
	return fmt.Sprintf("%s/%s/%s:%s", s.Registry, s.Organization, name, s.Version)
}

func (s *Settings) nsmImage(name string) string {
	return fmt.Sprintf("%s/%s/%s:%s", s.Registry, s.NSMOrganization, name, s.NSMVersion)
}

func (s *Settings) busyboxImage() string {
	return fmt.Sprintf("%s/%s/busybox:%s", s.Registry, s.Organization, s.BusyboxVersion)
}
