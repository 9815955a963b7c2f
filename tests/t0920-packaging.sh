#!/bin/bash
# Packaging: make install puts the manual, the bash completion and the Lmod
# modulefile where man, bash-completion and Lmod find them; the manual covers
# every command and option; the Spack package is valid Python.
. "$(dirname "$0")/lib.sh"

prefix="$TEST_DIR/prefix"
completion="$SRC_DIR/doc/benchmon.bash-completion"
modulefile="$SRC_DIR/packaging/lmod/benchmon/0.1.0.lua"

lmod_init=
for f in /usr/share/lmod/lmod/init/bash ${LMOD_PKG:+"$LMOD_PKG/init/bash"}; do
	if [ -r "$f" ]; then
		lmod_init=$f
		break
	fi
done

# lmod_sh SCRIPT: run SCRIPT in a bash with Lmod initialised and no module
# state inherited from the shell that runs the tests. PATH has the build tree's
# benchmon first, which the module must override, and no duplicates, which
# Lmod would drop.
lmod_sh() {
	env -i HOME="$HOME" PATH="$SRC_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		BENCHMON_HOME="$BENCHMON_HOME" NO_COLOR=1 \
		TEST_DIR="$TEST_DIR" prefix="$prefix" \
		bash --noprofile --norc -ec ". '$lmod_init' && $1"
}

# complete_words WORD...: what the completion offers for the command line
# WORD... (the last word is the one being completed), sorted, one a line.
complete_words() {
	bash --noprofile --norc -uc '. "$1" && shift &&
		COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) && _benchmon &&
		if [ ${#COMPREPLY[@]} -gt 0 ]; then printf "%s\n" "${COMPREPLY[@]}" | sort; fi' - "$completion" "$@"
}

test_expect_success 'make install puts the manual, the completion and the modulefile under PREFIX' '
	make -C "$SRC_DIR" --no-print-directory install PREFIX="$prefix" >/dev/null &&
	test -x "$prefix/bin/benchmon" &&
	test_path_is_file "$prefix/share/man/man1/benchmon.1" &&
	test_path_is_file "$prefix/share/bash-completion/completions/benchmon" &&
	test_path_is_file "$prefix/share/lmod/benchmon/0.1.0.lua" &&
	test_path_is_file "$prefix/share/benchmon/templates/profiles/default.json"
'

if command -v man >/dev/null; then
	test_expect_success 'the manual renders without warnings' '
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$SRC_DIR/doc/benchmon.1" >page 2>err &&
		test_cmp /dev/null err &&
		grep -q "^EXIT STATUS" page
	'
elif command -v groff >/dev/null; then
	test_expect_success 'the manual renders without warnings' '
		groff -man -ww -z "$SRC_DIR/doc/benchmon.1" 2>err &&
		test_cmp /dev/null err
	'
else
	say "# skip: neither man nor groff is installed, the manual is not rendered"
fi

# man_missing: the commands (from 'benchmon help') without a section in the
# manual, and the options (from 'benchmon CMD -h') without an entry in their
# command's section, one a line. -h and --help are described once for all.
man_missing() {
	local page="$SRC_DIR/doc/benchmon.1" cmd opt

	benchmon help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\)  .*/\1/p' >commands
	[ -s commands ] || { echo "no commands in benchmon help"; return; }
	while read -r cmd; do
		# the tags (lines after .TP or .TQ) of its section: from its .SS lines
		# up to the next other .SS or .SH
		awk -v ss=".SS \"${cmd//-/\\\\-}" '
			/^\.S[SH] / { on = (index($0, ss " ") == 1 || index($0, ss "\"") == 1); if (on) print; next }
			on && tag { print }
			{ tag = /^\.T[PQ]$/ }' "$page" >section
		[ -s section ] || echo "command $cmd"
		benchmon "$cmd" -h | sed -n 's/^  --\([a-z0-9-]*\).*/\1/p' >opts
		while read -r opt; do
			grep -qE "^\.B[IR]? (\\\\%)?\\\\-\\\\-${opt//-/\\\\-}( |$)" section || echo "$cmd --$opt"
		done <opts
	done <commands
}

test_expect_success 'the manual has every command and every option of their -h' '
	man_missing >missing &&
	test_cmp /dev/null missing
'

if [ -n "$lmod_init" ]; then
	test_expect_success 'module load benchmon: the installed benchmon, its manual and data' '
		lmod_sh "module use \"\$prefix/share/lmod\" && module load benchmon/0.1.0 &&
			benchmon --version && command -v benchmon &&
			echo \"\$BENCHMON_DATADIR\" &&
			if command -v man >/dev/null; then man -w benchmon; else echo none; fi" >actual &&
		if command -v man >/dev/null; then
			manpage="$prefix/share/man/man1/benchmon.1"
		else
			manpage=none
		fi &&
		printf "%s\n" "benchmon 0.1.0" "$prefix/bin/benchmon" "$prefix/share/benchmon" "$manpage" >expect &&
		test_cmp expect actual
	'

	test_expect_success 'the module-loaded benchmon renders from the installed templates' '
		lmod_sh "module use \"\$prefix/share/lmod\" && module load benchmon &&
			benchmon session-create --run-id mod --launcher local &&
			benchmon start --session mod --dry-run" >out &&
		grep -q "session .mod. created" out &&
		test_path_is_file "$BENCHMON_HOME/sessions/mod/prometheus.yml"
	'

	test_expect_success 'module unload puts the environment back' '
		lmod_sh "echo \"\$PATH|\${MANPATH-}|\${BENCHMON_DATADIR-unset}\" &&
			module use \"\$prefix/share/lmod\" && module load benchmon && module unload benchmon &&
			echo \"\$PATH|\${MANPATH-}|\${BENCHMON_DATADIR-unset}\"" >out &&
		sed -n 1p out >expect &&
		# a MANPATH of empty entries is man'\''s own search path, as if unset
		sed -n 2p out | sed "s/|:*|/||/" >actual &&
		test_cmp expect actual
	'

	test_expect_success 'a copy in a central modulepath loads once its root line is set' '
		mkdir -p modules/benchmon &&
		sed "s|^local root = .*|local root = \"$prefix\"|" "$modulefile" >modules/benchmon/0.1.0.lua &&
		lmod_sh "module use \"\$TEST_DIR/modules\" && module load benchmon/0.1.0 &&
			benchmon --version && command -v benchmon" >actual &&
		printf "%s\n" "benchmon 0.1.0" "$prefix/bin/benchmon" >expect &&
		test_cmp expect actual
	'

	test_expect_success 'an unedited copy elsewhere refuses to load, saying why' '
		mkdir -p elsewhere/benchmon &&
		cp "$modulefile" elsewhere/benchmon/0.1.0.lua &&
		test_expect_code 1 lmod_sh "module use \"\$TEST_DIR/elsewhere\" && module load benchmon/0.1.0" 2>err &&
		grep -q "cannot tell the install root" err
	'

	if [ -r /usr/share/bash-completion/bash_completion ]; then
		test_expect_success 'with the module loaded, bash-completion finds the installed completion' '
			lmod_sh "module use \"\$prefix/share/lmod\" && module load benchmon &&
				. /usr/share/bash-completion/bash_completion &&
				__load_completion benchmon && complete -p benchmon" >actual &&
			grep -q -- "-F _benchmon benchmon\$" actual
		'
	fi
else
	say "# skip: Lmod is not installed (apt-get install lmod), the modulefile is not loaded"
fi

test_expect_success 'the Spack package is valid Python' '
	PYTHONPYCACHEPREFIX="$TEST_DIR/pycache" python3 -m py_compile "$SRC_DIR/packaging/spack/package.py"
'

test_expect_success 'the Spack package builds and installs with PREFIX set to its prefix' '
	mkdir -p stub/spack &&
	: >stub/spack/__init__.py &&
	cat >stub/spack/package.py <<-\EOF &&
	# just enough of spack.package to load a package and run its phases
	import os
	calls = []
	def _directive(*args, **kwargs): pass
	version = depends_on = maintainers = _directive
	def make(*args): calls.append(("make",) + args)
	def join_path(*parts): return os.path.join(*parts)
	class MakefilePackage:
	    def __init__(self, prefix): self.prefix = prefix
	EOF
	cat >stub/check.py <<-\EOF &&
	import importlib.util, sys
	import spack.package as sp
	spec = importlib.util.spec_from_file_location("benchmon_pkg", sys.argv[1])
	mod = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(mod)
	pkg = mod.Benchmon("/opt/spack/benchmon")
	pkg.build(None, pkg.prefix)
	pkg.install(None, pkg.prefix)
	class Env(dict):
	    def set(self, k, v): self[k] = v
	env = Env()
	pkg.setup_run_environment(env)
	for c in sp.calls: print(" ".join(c))
	print("BENCHMON_DATADIR=" + env["BENCHMON_DATADIR"])
	EOF
	PYTHONPATH="$TEST_DIR/stub" PYTHONDONTWRITEBYTECODE=1 python3 stub/check.py "$SRC_DIR/packaging/spack/package.py" >actual &&
	cat >expect <<-\EOF &&
	make PREFIX=/opt/spack/benchmon
	make install PREFIX=/opt/spack/benchmon
	BENCHMON_DATADIR=/opt/spack/benchmon/share/benchmon
	EOF
	test_cmp expect actual
'

test_expect_success 'completion: command names' '
	complete_words benchmon sess >actual &&
	printf "%s\n" session-create sessions >expect &&
	test_cmp expect actual &&
	complete_words benchmon help st >actual &&
	printf "%s\n" start status stop >expect &&
	test_cmp expect actual
'

test_expect_success 'completion: --session offers the sessions of BENCHMON_HOME' '
	benchmon session-create --run-id alpha --launcher local >/dev/null &&
	benchmon session-create --run-id beta --launcher local >/dev/null &&
	mkdir -p "$BENCHMON_HOME/sessions/.partial" &&
	complete_words benchmon status --session "" >actual &&
	ls "$BENCHMON_HOME/sessions" | sort >expect &&
	grep -qx alpha expect &&
	! grep -q "^\." actual &&
	test_cmp expect actual &&
	complete_words benchmon stop --session=al >actual &&
	echo alpha >expect &&
	test_cmp expect actual &&
	complete_words benchmon stop --session = b >actual &&
	echo beta >expect &&
	test_cmp expect actual
'

test_expect_success 'completion: options come from the command'\''s -h' '
	complete_words benchmon collect --pro >actual &&
	echo --profile >expect &&
	test_cmp expect actual &&
	benchmon start -h | sed -n "s/^  \(-h, \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p" | sort >expect &&
	echo -h >>expect && sort -o expect expect &&
	complete_words benchmon start "" >actual &&
	test_cmp expect actual &&
	complete_words benchmon start --session s1 --wa >actual &&
	printf "%s\n" --wait --wait-targets >expect &&
	test_cmp expect actual
'

test_expect_success 'completion: --launcher, --profile, --out and --from-file values' '
	complete_words benchmon session-create --launcher "" >actual &&
	printf "%s\n" local slurm >expect &&
	test_cmp expect actual &&
	mkdir -p comp && (
		cd comp &&
		mkdir results && : >targets.csv &&
		BENCHMON_DATADIR="$prefix/share/benchmon" complete_words benchmon collect --profile "" >../actual &&
		complete_words benchmon collect --out "" >../actual-out &&
		complete_words benchmon service-register --from-file t >../actual-file
	) &&
	printf "%s\n" default results targets.csv vllm >expect &&
	test_cmp expect actual &&
	echo results >expect &&
	test_cmp expect actual-out &&
	echo targets.csv >expect &&
	test_cmp expect actual-file
'

test_done
