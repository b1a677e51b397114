package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tamkeen/tamkeen/libs/config"
)

const completionUsage = `Usage: tamkeen completion bash|zsh
Prints a completion script for the shell, built from the tool's command
table: commands, their subcommands, their flags and -o's formats.
  bash:  source <(tamkeen completion bash)   (or save it in /etc/bash_completion.d/tamkeen)
  zsh:   source <(tamkeen completion zsh)    (or save it as _tamkeen in a directory of $fpath)
`

// commandNames are the words that may follow "tamkeen": every command of
// the table, completion and help.
func commandNames() []string {
	names := []string{"completion", "help"}
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// runCompletion prints the completion script of a shell.
func runCompletion(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usageError(stderr, completionUsage, "tamkeen completion needs bash or zsh")
	}
	switch args[0] {
	case "bash", "zsh":
		script, err := completionScript(args[0])
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, script)
		return err
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, completionUsage)
		return nil
	}
	return usageError(stderr, completionUsage, fmt.Sprintf("no completion for the shell %q (want bash or zsh)", args[0]))
}

// commandConfigs are the settings each command reads from its flags: the
// flags completion offers after a dash.
var commandConfigs = map[string][]any{
	"dev":          {&devConfig{}},
	"migrate":      {&migrateConfig{}},
	"pki":          {&pkiInitConfig{}},
	"ledger":       {&ledgerConfig{}},
	"clients":      {&clientsConfig{}, &rightsConfig{}},
	"keys":         {&keysConfig{}},
	"identity-key": {&identityKeyConfig{}},
	"rights":       {&rightsConfig{}},
	"xroad":        {&xroadConfig{}},
	"audit":        {&auditConfig{}},
	"usage":        {&usageConfig{}},
	"webhooks":     {&webhooksConfig{}},
	"version":      {&versionConfig{}},
	"load":         {&loadConfig{}},
}

// commandFlags are a command's flags, with their dashes (one for a
// one-letter flag), sorted.
func commandFlags(name string) ([]string, error) {
	var out []string
	for _, cfg := range commandConfigs[name] {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		if err := config.Register(fs, cfg); err != nil {
			return nil, fmt.Errorf("completion: flags of %s: %w", name, err)
		}
		fs.VisitAll(func(f *flag.Flag) {
			name := "--" + f.Name
			if len(f.Name) == 1 {
				name = "-" + f.Name // -o
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		})
	}
	slices.Sort(out)
	return out, nil
}

// flagCases are the shell case arms offering each command's flags.
func flagCases(arm func(cmd, words string) string) (string, error) {
	var b strings.Builder
	for _, name := range commandNames() {
		flags, err := commandFlags(name)
		if err != nil {
			return "", err
		}
		if len(flags) > 0 {
			b.WriteString(arm(name, strings.Join(flags, " ")))
		}
	}
	return b.String(), nil
}

// subcommandCases are the shell case arms offering each command's
// subcommands, in command order.
func subcommandCases(arm func(cmd, words string) string) string {
	var b strings.Builder
	for _, name := range commandNames() {
		if words, ok := subcommandWords[name]; ok {
			b.WriteString(arm(name, strings.Join(words, " ")))
		}
	}
	return b.String()
}

// completionScript is the completion script of shell (bash or zsh).
func completionScript(shell string) (string, error) {
	if shell == "zsh" {
		flags, err := flagCases(func(cmd, words string) string {
			return "\t\t" + cmd + ") compadd -- " + words + "; return ;;\n"
		})
		if err != nil {
			return "", err
		}
		return zshCompletion(flags), nil
	}
	flags, err := flagCases(func(cmd, words string) string {
		return "\t\t" + cmd + ") COMPREPLY=($(compgen -W \"" + words + "\" -- \"$cur\")) ;;\n"
	})
	if err != nil {
		return "", err
	}
	return bashCompletion(flags), nil
}

func bashCompletion(flagArms string) string {
	return `# bash completion for tamkeen (tamkeen completion bash)
_tamkeen() {
	local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
	COMPREPLY=()
	if [[ $COMP_CWORD -eq 1 ]]; then
		COMPREPLY=($(compgen -W "` + strings.Join(commandNames(), " ") + `" -- "$cur"))
		return
	fi
	case "$prev" in
	-o|--o)
		COMPREPLY=($(compgen -W "table json" -- "$cur"))
		return
		;;
	esac
	if [[ "$cur" == -* ]]; then
		case "${COMP_WORDS[1]}" in
` + flagArms + `		esac
		return
	fi
	if [[ $COMP_CWORD -eq 2 ]]; then
		case "${COMP_WORDS[1]}" in
` + subcommandCases(func(cmd, words string) string {
		return "\t\t" + cmd + ") COMPREPLY=($(compgen -W \"" + words + "\" -- \"$cur\")) ;;\n"
	}) + `		esac
	fi
}
complete -o default -F _tamkeen tamkeen
`
}

func zshCompletion(flagArms string) string {
	return `#compdef tamkeen
# zsh completion for tamkeen (tamkeen completion zsh)
_tamkeen() {
	if (( CURRENT == 2 )); then
		compadd -- ` + strings.Join(commandNames(), " ") + `
		return
	fi
	case "${words[CURRENT-1]}" in
	-o|--o)
		compadd -- table json
		return
		;;
	esac
	if [[ "${words[CURRENT]}" == -* ]]; then
		case "${words[2]}" in
` + flagArms + `		esac
		return
	fi
	if (( CURRENT == 3 )); then
		case "${words[2]}" in
` + subcommandCases(func(cmd, words string) string {
		return "\t\t" + cmd + ") compadd -- " + words + "; return ;;\n"
	}) + `		esac
	fi
	_files
}
if [[ "${funcstack[1]}" == "_tamkeen" ]]; then
	_tamkeen "$@"
else
	compdef _tamkeen tamkeen
fi
`
}
