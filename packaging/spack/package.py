# Spack package for benchmon.
#
# Use it from a local repository:
#     spack repo create ~/spack-repos/site        # once
#     mkdir -p <that repo's packages dir>/benchmon
#     cp packaging/spack/package.py <that repo's packages dir>/benchmon/
#     spack install benchmon
#
# Dependencies that Spack's builtin repository lacks:
#   libcsv      not packaged by Spack (as of 2025). Declare the system's as an
#               external in packages.yaml, e.g. on Debian (libcsv-dev):
#                   packages:
#                     libcsv:
#                       externals: [{spec: libcsv@3.0.3, prefix: /usr}]
#                       buildable: false
#               or add a libcsv package to the same local repository.
#   prometheus  packaged by Spack, but an old build from source (Go, Node.js,
#               yarn); most sites use the binary release already on the nodes,
#               so it is left to BENCHMON_PROMETHEUS or PATH (see below).

from spack.package import *

try:  # Spack >= 1.0 keeps the build systems in the builtin repository
    from spack_repo.builtin.build_systems.makefile import MakefilePackage
except ImportError:  # Spack 0.x exports MakefilePackage from spack.package
    pass


class Benchmon(MakefilePackage):
    """Monitor benchmarks of AI systems (inference servers, vector databases,
    storage) on Slurm clusters: a registry of what to scrape, Prometheus run
    as a Slurm job, and the KPIs of a benchmark window."""

    # FIXME: placeholders until benchmon has a public home and release tarballs
    homepage = "https://example.org/benchmon"  # FIXME: placeholder
    url = "https://example.org/benchmon/benchmon-0.1.0.tar.gz"  # FIXME: placeholder
    # git = "https://example.org/benchmon.git"  # FIXME: placeholder

    # FIXME: add the release's checksum ('spack checksum benchmon 0.1.0'); until
    # then Spack installs it only with 'spack install --no-checksum benchmon'
    version("0.1.0")

    # a C11 compiler: Spack >= 0.22 declares languages as dependencies (drop
    # this line for older Spack, which has no "c" virtual)
    depends_on("c", type="build")
    depends_on("gmake", type="build")

    depends_on("slurm")  # libslurm, at build and run time
    # curl.h at build time; libcurl.so.4 is dlopen()ed at run time, found
    # through the RPATH Spack adds for link dependencies
    depends_on("curl")
    # microhttpd.h at build time; libmicrohttpd.so.12 is dlopen()ed by 'benchmon serve'
    depends_on("libmicrohttpd")
    depends_on("cjson")
    depends_on("libcsv")  # not in Spack's builtin repository: see above

    # Prometheus runs as a Slurm job on the node Slurm picks, so it must be
    # there, not only where benchmon is installed. Uncomment to have Spack
    # build it (slow: Go, Node.js and yarn):
    # depends_on("prometheus", type="run")

    def build(self, spec, prefix):
        # PREFIX at build time too: the binary keeps $(PREFIX)/share/benchmon
        # as its data directory (templates, query profiles)
        make("PREFIX={0}".format(prefix))

    def install(self, spec, prefix):
        make("install", "PREFIX={0}".format(prefix))

    def setup_run_environment(self, env):
        env.set("BENCHMON_DATADIR", join_path(self.prefix, "share", "benchmon"))
