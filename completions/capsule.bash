# SPDX-License-Identifier: Apache-2.0
# bash completion for capsule(1): commands, options, and the names of capsuled's domains
# (from `capsule list --json`; nothing, silently, when capsuled is not running).

_capsule_domains()
{
	# Any JSON layout: every "name": "..." member. A stuck daemon costs two seconds at most.
	timeout 2 "${1:-capsule}" list --json 2>/dev/null |
		grep -o '"name"[[:space:]]*:[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_capsule()
{
	local cur prev cmd
	local commands="run control create list info pause unpause shutdown reboot destroy
		console top mem-set events log"
	local run_opts="--mem --vcpus --cmdline --name --config --initrd --no-pvh --timeout
		--on-poweroff --on-reboot --on-crash --no-reboot --disk --net --virtio-console --rng
		--balloon --exit-file --console-log --api-sock --control --stats --no-seccomp
		--verbose --help"

	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	case $cmd in
	run)
		case $prev in
		--on-poweroff | --on-reboot | --on-crash)
			COMPREPLY=($(compgen -W "destroy restart preserve" -- "$cur"))
			return ;;
		--config | --initrd | --disk | --exit-file | --console-log | --api-sock | --control)
			COMPREPLY=($(compgen -f -- "$cur"))
			return ;;
		-m | --mem | -c | --vcpus | -p | --cmdline | -n | --name | -t | --timeout | --net | \
			--balloon)
			return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$run_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	control)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		elif [ "$COMP_CWORD" -eq 3 ]; then
			COMPREPLY=($(compgen -W "info pause resume shutdown reboot destroy balloon
				counters" -- "$cur"))
		fi
		;;
	create)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	list | top | events)
		COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
		;;
	info | pause | unpause | shutdown | reboot | destroy | console | mem-set | log)
		if [[ $cur == -* ]]; then
			local opts="--help"
			case $cmd in
			info | log) opts="--json --help" ;;
			shutdown) opts="-w --help" ;;
			esac
			COMPREPLY=($(compgen -W "$opts" -- "$cur"))
			return
		fi
		# The domain is the first word that is not an option; after it (mem-set's MiB)
		# there is nothing to offer.
		local i
		for ((i = 2; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* ]] || return
		done
		COMPREPLY=($(compgen -W "$(_capsule_domains "${COMP_WORDS[0]}")" -- "$cur"))
		;;
	esac
}
complete -F _capsule capsule
