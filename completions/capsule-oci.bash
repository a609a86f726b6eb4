# SPDX-License-Identifier: Apache-2.0
# bash completion for capsule-oci(1): commands, their options, and the container ids under
# --root (default /run/capsule-oci).

_capsule_oci()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local root=/run/capsule-oci cmd="" i
	local commands="create start state kill delete ps pause resume features"
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--root) root=${COMP_WORDS[i+1]}; ((i++)) ;;
		--log | --log-format) ((i++)) ;;
		-*) ;;
		*) [ -z "$cmd" ] && cmd=${COMP_WORDS[i]} ;;
		esac
	done
	case $prev in
	--root | --bundle) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--log | --pid-file | --console-socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
	--format) COMPREPLY=($(compgen -W "table json" -- "$cur")); return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--root --log --log-format --debug --systemd-cgroup
				--version --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	case $cmd in
	create) [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--bundle --pid-file --console-socket
		--no-pivot --no-new-keyring" -- "$cur")); return ;;
	kill) [[ $cur == -* ]] && { COMPREPLY=($(compgen -W "--all" -- "$cur")); return; }
		[ "$prev" != kill ] && [ "$prev" != --all ] &&
			{ COMPREPLY=($(compgen -W "TERM KILL INT HUP USR1 SIGTERM SIGKILL" -- "$cur")); return; } ;;
	delete) [[ $cur == -* ]] && { COMPREPLY=($(compgen -W "--force" -- "$cur")); return; } ;;
	ps) [[ $cur == -* ]] && { COMPREPLY=($(compgen -W "--format" -- "$cur")); return; } ;;
	features) return ;;
	esac
	COMPREPLY=($(compgen -W "$(ls "$root" 2>/dev/null)" -- "$cur"))
}
complete -F _capsule_oci capsule-oci
