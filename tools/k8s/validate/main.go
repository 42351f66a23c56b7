// k8s-validate: checks Kubernetes manifests offline the way an API server of
// the release in go.mod would on create, with that release's own code:
//
//  1. strict decoding (fieldValidation=Strict, kubectl --validate=strict):
//     unknown fields, duplicate fields and wrong types are errors;
//
//  2. defaulting and conversion to the internal version (legacyscheme);
//
//  3. the resource's registry strategy (rest.BeforeCreate): PrepareForCreate,
//     the hand-written validation (ValidateDaemonSet, ValidateConfigMap, ...),
//     ObjectMeta validation, the declarative validation, and the warnings the
//     server would send back;
//
//  4. Pod Security admission: a workload's pod template is evaluated against
//     the enforce level of its Namespace when that Namespace is among the
//     inputs (the same checks as the PodSecurity admission plugin).
//
//     k8s-validate file.yaml...     # "-" reads stdin
//
// One line per object: "ok <file> <Kind> <namespace>/<name>" or
// "error <file> doc <n>: <Kind> <name>: <message>" (one per error), warnings as
// "warning ..."; exit 0 when every object is valid, 1 when any is not, 2 on
// bad usage or an unreadable file.
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	jsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
	sigsyaml "sigs.k8s.io/yaml"
)

// The kinds conntrail's manifests use, in the versions an API server of this
// release serves (the scheme also knows older ones, such as apps/v1beta2,
// that it only converts), with the strategy it applies on create. Anything
// else is an error, never a silent pass.
var strategies = map[schema.GroupVersionKind]rest.RESTCreateStrategy{
	{Group: "", Version: "v1", Kind: "Namespace"}:      namespace.Strategy,
	{Group: "", Version: "v1", Kind: "ServiceAccount"}: serviceaccount.Strategy,
	{Group: "", Version: "v1", Kind: "ConfigMap"}:      configmap.Strategy,
	{Group: "", Version: "v1", Kind: "Service"}:        service.Strategy,
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:  daemonset.Strategy,
}

type recorder struct{ warnings []string }

func (r *recorder) AddWarning(_, text string) { r.warnings = append(r.warnings, text) }

type object struct {
	file      string
	doc       int
	gvk       schema.GroupVersionKind
	name      string
	namespace string
	versioned runtime.Object
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: k8s-validate <manifest.yaml|->...")
		os.Exit(2)
	}
	strict := jsonserializer.NewSerializerWithOptions(jsonserializer.DefaultMetaFactory, legacyscheme.Scheme, legacyscheme.Scheme,
		jsonserializer.SerializerOptions{Yaml: true, Strict: true})

	failed := false
	report := func(o *object, format string, args ...any) {
		failed = true
		// one line per error, whatever the message holds
		message := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
		fmt.Printf("error %s doc %d: %s %s: %s\n", o.file, o.doc, o.gvk.Kind, o.name, message)
	}
	var objects []*object
	for _, file := range os.Args[1:] {
		docs, err := readDocuments(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-validate: %s: %v\n", file, err)
			os.Exit(2)
		}
		for i, doc := range docs {
			o := &object{file: file, doc: i + 1}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := sigsyaml.Unmarshal(doc, &head); err != nil {
				report(o, "not a Kubernetes object: %v", err)
				continue
			}
			o.gvk = schema.FromAPIVersionAndKind(head.APIVersion, head.Kind)
			o.name, o.namespace = head.Metadata.Name, head.Metadata.Namespace
			if head.APIVersion == "" || head.Kind == "" {
				report(o, "apiVersion and kind are required")
				continue
			}
			if _, ok := strategies[o.gvk]; !ok {
				if served := servedVersion(o.gvk.GroupKind()); served != "" {
					report(o, "%s %s is not served by Kubernetes %s: use %s", head.APIVersion, head.Kind, kubeVersion(), served)
				} else if legacyscheme.Scheme.Recognizes(o.gvk) {
					report(o, "%s %s is not one k8s-validate validates (it knows %s): add its registry strategy", head.APIVersion, head.Kind, known())
				} else {
					report(o, "unknown apiVersion/kind %s %s: not served by Kubernetes %s", head.APIVersion, head.Kind, kubeVersion())
				}
				continue
			}
			obj, _, err := strict.Decode(doc, nil, nil)
			if err != nil {
				if strictErr, ok := runtime.AsStrictDecodingError(err); ok {
					for _, e := range strictErr.Errors() {
						report(o, "strict decoding: %s", e)
					}
				} else {
					report(o, "decoding: %v", err)
				}
				continue
			}
			o.versioned = obj
			if validate(o, report) {
				ns := o.namespace
				if ns != "" {
					ns += "/"
				}
				fmt.Printf("ok %s %s %s%s\n", o.file, o.gvk.Kind, ns, o.name)
			}
			objects = append(objects, o)
		}
	}
	podSecurity(objects, report)
	if failed {
		os.Exit(1)
	}
}

// validate runs what the API server runs on create; true when it passed.
func validate(o *object, report func(*object, string, ...any)) bool {
	scheme := legacyscheme.Scheme
	versioned := o.versioned.DeepCopyObject()
	scheme.Default(versioned)
	internal, err := scheme.ConvertToVersion(versioned, schema.GroupVersion{Group: o.gvk.Group, Version: runtime.APIVersionInternal})
	if err != nil {
		report(o, "conversion: %v", err)
		return false
	}
	strategy := strategies[o.gvk]
	accessor, err := metaAccessor(internal)
	if err != nil {
		report(o, "%v", err)
		return false
	}
	rest.FillObjectMetaSystemFields(accessor)
	requestNamespace := ""
	if strategy.NamespaceScoped() {
		requestNamespace = accessor.GetNamespace()
		if requestNamespace == "" {
			requestNamespace = metav1.NamespaceDefault
		}
	}
	rec := &recorder{}
	ctx := warning.WithWarningRecorder(genericapirequest.WithNamespace(context.Background(), requestNamespace), rec)
	ctx = genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: "create", APIGroup: o.gvk.Group, APIVersion: o.gvk.Version,
		Namespace: requestNamespace, Name: accessor.GetName(),
		Resource: strings.ToLower(o.gvk.Kind) + "s",
	})
	if err := rest.BeforeCreate(strategy, ctx, internal); err != nil {
		report(o, "%v", err)
		return false
	}
	for _, w := range rec.warnings {
		fmt.Printf("warning %s doc %d: %s %s: %s\n", o.file, o.doc, o.gvk.Kind, o.name, w)
	}
	return true
}

// servedVersion is the apiVersion strategies has for a kind, or "".
func servedVersion(gk schema.GroupKind) string {
	for gvk := range strategies {
		if gvk.GroupKind() == gk {
			return gvk.GroupVersion().String()
		}
	}
	return ""
}

// known lists the apiVersion/kind pairs in strategies.
func known() string {
	var out []string
	for gvk := range strategies {
		apiVersion, kind := gvk.ToAPIVersionAndKind()
		out = append(out, apiVersion+" "+kind)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// kubeVersion is the Kubernetes release whose code this binary was built from.
func kubeVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "k8s.io/kubernetes" {
				return m.Version
			}
		}
	}
	return "(unknown)"
}

func metaAccessor(obj runtime.Object) (metav1.Object, error) {
	m, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, fmt.Errorf("%T has no ObjectMeta", obj)
	}
	return m.GetObjectMeta(), nil
}

// podSecurity evaluates every workload's pod template against the enforce
// level of its Namespace, when that Namespace is one of the inputs.
func podSecurity(objects []*object, report func(*object, string, ...any)) {
	namespaces := map[string]*corev1.Namespace{}
	for _, o := range objects {
		if ns, ok := o.versioned.(*corev1.Namespace); ok {
			namespaces[ns.Name] = ns
		}
	}
	evaluator, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8s-validate: pod security checks: %v\n", err)
		os.Exit(2)
	}
	for _, o := range objects {
		template := podTemplate(o.versioned)
		if template == nil {
			continue
		}
		ns, ok := namespaces[o.namespace]
		if !ok {
			fmt.Printf("info %s doc %d: %s %s: namespace %q is not among the inputs: Pod Security not checked\n", o.file, o.doc, o.gvk.Kind, o.name, o.namespace)
			continue
		}
		policy, errs := psaapi.PolicyToEvaluate(ns.Labels, psaapi.Policy{
			Enforce: psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()},
		})
		if len(errs) > 0 {
			report(o, "namespace %s: pod security labels: %v", ns.Name, errs.ToAggregate())
			continue
		}
		// The least level this pod template needs, for the record.
		needed := psaapi.LevelPrivileged
		for _, level := range []psaapi.Level{psaapi.LevelRestricted, psaapi.LevelBaseline} {
			if agg := psapolicy.AggregateCheckResults(evaluator.EvaluatePod(psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, &template.ObjectMeta, &template.Spec)); agg.Allowed {
				needed = level
				break
			}
		}
		agg := psapolicy.AggregateCheckResults(evaluator.EvaluatePod(policy.Enforce, &template.ObjectMeta, &template.Spec))
		if !agg.Allowed {
			report(o, "pods would be rejected by Pod Security admission in namespace %s (enforce %s): %s", ns.Name, policy.Enforce.String(), agg.ForbiddenDetail())
			continue
		}
		fmt.Printf("info %s doc %d: %s %s: Pod Security level needed: %s (namespace %s enforces %s)\n", o.file, o.doc, o.gvk.Kind, o.name, needed, ns.Name, policy.Enforce.String())
	}
}

// podTemplate is the pod template of a workload kind in strategies, else nil.
func podTemplate(obj runtime.Object) *corev1.PodTemplateSpec {
	switch v := obj.(type) {
	case *appsv1.DaemonSet:
		return &v.Spec.Template
	}
	return nil
}

func readDocuments(file string) ([][]byte, error) {
	var r io.Reader
	if file == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no Kubernetes objects in it")
	}
	return docs, nil
}

// stripComments drops whole-line YAML comments (to tell an empty document).
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
