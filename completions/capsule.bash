# SPDX-License-Identifier: Apache-2.0
# bash completion for capsule(1): commands, options, and the names of capsuled's domains
# (from `capsule list --json`; nothing, silently, when capsuled is not running).

_capsule_domains() # capsule [socket]
{
	# Any JSON layout: every "name": "..." member. A stuck daemon costs two seconds at most.
	timeout 2 "$1" ${2:+--socket "$2"} list --json 2>/dev/null |
		grep -o '"name"[[:space:]]*:[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_capsule()
{
	local cur prev cmd
	local commands="run control create list info pause unpause shutdown reboot destroy
		console top mem-set dump-core events log sched-credit vcpu-pin vcpu-list attest verify-attestation migrate migrate-abort"
	local run_opts="--mem --memory-backing --vcpus --cmdline --name --config --initrd --no-pvh --timeout
		--on-poweroff --on-reboot --on-crash --no-reboot --disk --net --virtio-console --rng
		--balloon --exit-file --console-log --api-sock --control --gdb --paused --stats --no-seccomp
		--no-prefetch --wss-period --wss-sample --no-wss
		--jail --uid --gid --jail-netns --jail-cgroup --jail-nofile
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
		--memory-backing)
			COMPREPLY=($(compgen -W "shared private" -- "$cur"))
			return ;;
		--jail | --jail-cgroup)
			COMPREPLY=($(compgen -d -- "$cur"))
			return ;;
		--jail-netns)
			COMPREPLY=($(compgen -f -- "${cur:-/run/netns/}"))
			return ;;
		--config | --initrd | --disk | --exit-file | --console-log | --api-sock | --control | --gdb)
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
				counters working-set" -- "$cur"))
		fi
		;;
	create)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	verify-attestation)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--pubkey --measurement --nonce --help" \
			-- "$cur")) || COMPREPLY=($(compgen -f -- "$cur"))
		;;
	list | info | pause | unpause | shutdown | reboot | destroy | console | top | mem-set | \
		dump-core | events | log | sched-credit | vcpu-pin | vcpu-list | attest | migrate | migrate-abort)
		# The xl verbs (src/cli/xl*.c): -S/--socket, --json, their own options, and the
		# domain's name as the first other word (every name for list).
		local opts="-S --socket --json --help" takes="-S --socket" sock="" i nwords=0
		case $cmd in
		shutdown) opts="$opts -w -g"; takes="$takes -g" ;;
		top) opts="$opts -b -n -d"; takes="$takes -n -d" ;;
		events) opts="$opts -n"; takes="$takes -n" ;;
		sched-credit) opts="$opts -d --domain -w --weight -c --cap"
			takes="$takes -w --weight -c --cap" ;;
		attest) opts="$opts --nonce --pubkey"; takes="$takes --nonce" ;;
		migrate) opts="$opts --insecure --downtime --auto-converge --max-rounds --postcopy"
			takes="$takes --downtime --max-rounds" ;;
		esac
		case " $takes " in *" $prev "*)
			[[ $prev == -S || $prev == --socket ]] && COMPREPLY=($(compgen -f -- "$cur"))
			return ;;
		esac
		for ((i = 2; i < COMP_CWORD; i++)); do
			case " $takes " in *" ${COMP_WORDS[i]} "*)
				[[ ${COMP_WORDS[i]} == -S || ${COMP_WORDS[i]} == --socket ]] &&
					sock=${COMP_WORDS[i + 1]}
				i=$((i + 1))
				continue ;;
			esac
			[[ ${COMP_WORDS[i]} == -* ]] || nwords=$((nwords + 1))
		done
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$opts" -- "$cur"))
			return
		fi
		case $cmd in
		top | events) return ;;
		list) ;;
		dump-core) # NAME, then FILE
			[ $nwords = 0 ] || { COMPREPLY=($(compgen -f -- "$cur")); return; } ;;
		vcpu-pin) # NAME, then VCPU (or all), then CPUS (or all)
			[ $nwords = 0 ] || { COMPREPLY=($(compgen -W "all" -- "$cur")); return; } ;;
		*) [ $nwords = 0 ] || return ;; # after the name (mem-set's MiB): nothing
		esac
		COMPREPLY=($(compgen -W "$(_capsule_domains "${COMP_WORDS[0]}" "$sock")" -- "$cur"))
		;;
	esac
}
complete -F _capsule capsule
