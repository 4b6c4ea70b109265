# tpm2-tools run against one TCTI, for the Azure VM fixture and the reference client:
# errors carry the tool's stderr; NV indexes are written whole (define, write) and read whole.
import os
import subprocess


class Tpm2Error(RuntimeError):
    pass


class Tpm2Tools:
    def __init__(self, tcti, workdir):
        self.env = dict(os.environ, TPM2TOOLS_TCTI=tcti)
        self.dir = workdir

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args):
        r = subprocess.run([str(a) for a in args], env=self.env, capture_output=True)
        if r.returncode:
            raise Tpm2Error('%s failed: %s' % (' '.join(map(str, args)),
                                               r.stderr.decode(errors='replace').strip()))
        return r.stdout.decode(errors='replace')

    def write_file(self, name, data):
        with open(self.path(name), 'wb') as f:
            f.write(data)
        return self.path(name)

    def read_file(self, name):
        with open(self.path(name), 'rb') as f:
            return f.read()

    def handles(self, kind):
        """Handles listed by tpm2_getcap handles-KIND (persistent, nv-index, transient)."""
        out = self.run('tpm2_getcap', 'handles-' + kind)
        return [int(line.strip().lstrip('- '), 16) for line in out.splitlines()
                if line.strip().lstrip('- ').startswith('0x')]

    def nv_exists(self, index):
        return index in self.handles('nv-index')

    def nv_write(self, index, data):
        """(Re)define `index` with owner read/write and exactly len(data) bytes, then write."""
        if self.nv_exists(index):
            self.run('tpm2_nvundefine', '-C', 'o', '0x%08x' % index)
        self.run('tpm2_nvdefine', '0x%08x' % index, '-C', 'o', '-s', len(data),
                 '-a', 'ownerread|ownerwrite|authread|authwrite')
        self.run('tpm2_nvwrite', '0x%08x' % index, '-C', 'o',
                 '-i', self.write_file('nv-%08x.bin' % index, data))

    def nv_read(self, index):
        """The whole index (its dataSize), owner auth; None when it is not defined."""
        if not self.nv_exists(index):
            return None
        out = self.path('nv-read-%08x.bin' % index)
        self.run('tpm2_nvread', '0x%08x' % index, '-C', 'o', '-o', out)
        with open(out, 'rb') as f:
            return f.read()

    def flush_transient(self):
        self.run('tpm2_flushcontext', '-t')
