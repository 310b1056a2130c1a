import type { Command } from 'commander';

/** The shells `agentos completion` writes a script for. */
export const completionShells = ['bash', 'zsh'] as const;

/** One of {@link completionShells}. */
export type CompletionShell = (typeof completionShells)[number];

type Level = { path: string; subcommands: string[]; options: string[] };

/** Every command path of the program (`""`, `agents`, `agents list`, …) with what may follow it. */
function levels(command: Command, path = ''): Level[] {
  const subcommands = command.commands.map((sub) => sub.name());
  const options = [
    ...command.options.flatMap((option) => [option.long, option.short]),
    ...(path === '' ? ['--version'] : []),
    '--help',
  ].filter((flag, index, all): flag is string => flag !== undefined && all.indexOf(flag) === index);
  return [
    { path, subcommands, options },
    ...command.commands.flatMap((sub) => levels(sub, path === '' ? sub.name() : `${path} ${sub.name()}`)),
  ];
}

function caseArms(all: Level[], words: (level: Level) => string[]): string {
  return all.map((level) => `    "${level.path}") echo "${words(level).join(' ')}" ;;`).join('\n');
}

/**
 * A bash completion script for `agentos`, written from the program's own command tree, so it
 * completes exactly the commands and flags this version has. Words that are not a subcommand of
 * the path so far (flags and their values, arguments) do not move the path on.
 */
function bashScript(program: Command): string {
  const all = levels(program);
  return `# bash completion for agentos (agentos completion bash)
_agentos_subcommands() {
  case "$1" in
${caseArms(all, (level) => level.subcommands)}
  esac
}
_agentos_words() {
  case "$1" in
${caseArms(all, (level) => [...level.subcommands, ...level.options])}
  esac
}
_agentos() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ " $(_agentos_subcommands "$path") " == *" $word "* ]]; then
      path="\${path:+$path }$word"
    fi
  done
  COMPREPLY=($(compgen -W "$(_agentos_words "$path")" -- "$cur"))
}
complete -F _agentos agentos
`;
}

/** The completion script for `shell`; zsh runs the bash one through its bashcompinit. */
export function completionScript(program: Command, shell: CompletionShell): string {
  const bash = bashScript(program);
  if (shell === 'bash') return bash;
  return `#compdef agentos
# zsh completion for agentos (agentos completion zsh): the bash completion, through bashcompinit
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bash}`;
}
