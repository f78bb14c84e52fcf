// Command olm_validate checks an OLM bundle directory with the operator framework's own validators,
// the ones `operator-sdk bundle validate --select-optional suite=operatorframework` and OperatorHub
// submissions run, and prints every finding as one JSON object per line:
//
//	{"validator": "...", "object": "...", "level": "error|warning", "type": "...", "field": "...", "detail": "..."}
//
// It exits 1 when a validator reports an error, 2 when the bundle cannot be loaded, 0 otherwise
// (warnings included: tests/packaging/test_bundle_validation.py decides which warnings are expected).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
)

type finding struct {
	Validator string `json:"validator"`
	Object    string `json:"object"`
	Level     string `json:"level"`
	Type      string `json:"type"`
	Field     string `json:"field"`
	Detail    string `json:"detail"`
}

type named struct {
	name      string
	validator interfaces.Validator
}

// The default bundle validators, then the optional "operatorframework" suite. Left out on purpose:
// MultipleArchitecturesValidator (it pulls the CSV's images with a container engine) and
// CommunityOperatorValidator (deprecated upstream, its checks moved to a separate catalog validator).
var validators = []named{
	{"csv", validation.ClusterServiceVersionValidator},
	{"crd", validation.CustomResourceDefinitionValidator},
	{"bundle", validation.BundleValidator},
	{"operatorhub", validation.OperatorHubV2Validator},
	{"standard-capabilities", validation.StandardCapabilitiesValidator},
	{"standard-categories", validation.StandardCategoriesValidator},
	{"object", validation.ObjectValidator},
	{"alpha-deprecated-apis", validation.AlphaDeprecatedAPIsValidator},
	{"good-practices", validation.GoodPracticesValidator},
}

func main() {
	k8sVersion := flag.String("k8s-version", "", "Kubernetes version the deprecated-API check targets (default: the CSV's minKubeVersion)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: olm_validate [-k8s-version X.Y] BUNDLE_DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	bundle, err := manifests.GetBundleFromDir(flag.Arg(0))
	if err != nil {
		fmt.Fprintf(os.Stderr, "olm_validate: cannot load the bundle in %s: %v\n", flag.Arg(0), err)
		os.Exit(2)
	}
	objects := bundle.ObjectsToValidate()
	if *k8sVersion != "" {
		objects = append(objects, map[string]string{"k8s-version": *k8sVersion})
	}
	out := json.NewEncoder(os.Stdout)
	failed := false
	for _, v := range validators {
		for _, result := range v.validator.Validate(objects...) {
			for _, group := range [][]errors.Error{result.Errors, result.Warnings} {
				for _, e := range group {
					level := "warning"
					if e.Level == errors.LevelError {
						level = "error"
						failed = true
					}
					record := finding{v.name, result.Name, level, string(e.Type), e.Field, e.Error()}
					if err := out.Encode(record); err != nil {
						fmt.Fprintf(os.Stderr, "olm_validate: %v\n", err)
						os.Exit(2)
					}
				}
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
