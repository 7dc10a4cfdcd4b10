/* The ssh-agent filter's host keys and program (sshagent.h). */
#include "sshagent.h"
#include "buf.h"
#include "proc.h"

#include <errno.h>
#include <string.h>

void adr_ssh_keygen_keys(const char *out, struct strv *blobs)
{
  cleanup_free char *copy = xstrdup(out ? out : "");
  for (char *line = copy, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    if (*line == '#' || !*line)
      continue;
    char *save = NULL, *f[4] = { 0 };
    size_t n = 0;
    for (char *t = strtok_r(line, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
      f[n++] = t;
    if (n && f[0][0] == '@')
      continue; /* @revoked, @cert-authority: not a host's own key */
    if (n >= 3 && !strv_contains(blobs, f[2]))
      strv_push(blobs, f[2]);
  }
}

char *adr_ssh_known_name(const char *host)
{
  const char *colon = strchr(host, ':');
  if (host[0] == '[' || !colon || strchr(colon + 1, ':')) /* [h]:p already, no port, or an IPv6 address */
    return xstrdup(host);
  if (streq(colon + 1, "22"))
    return xstrndup(host, (size_t)(colon - host));
  return xasprintf("[%.*s]:%s", (int)(colon - host), host, colon + 1);
}

int adr_ssh_known_keys(const char *known_hosts, const char *host, struct strv *blobs, adr_err *err)
{
  cleanup_free char *name = adr_ssh_known_name(host);
  const char *argv[] = { "ssh-keygen", "-F", name, "-f", known_hosts, NULL };
  cleanup_buf struct buf out;
  buf_init(&out, 1 << 20);
  struct adr_proc pr = { .argv = argv, .out = &out };
  int rc = adr_proc_run(&pr, err);
  if (rc < 0)
    return adr_err_prefix(err, "--ssh-agent %s", host);
  size_t before = blobs->n;
  if (rc == 0)
    adr_ssh_keygen_keys(out.data, blobs);
  if (blobs->n == before)
    return adr_err_set(err, ENOENT, "--ssh-agent %s: no host key for %s in %s (connect once from the host first)", host,
                       name, known_hosts);
  return 0;
}

/* The filter.  One request at a time per connection, each answered before
 * the next is read; messages over 256 KiB end the connection. */
const char adr_ssh_filter_js[] =
  "const net=require('net'),fs=require('fs');"
  "const [sock,up,...keys]=process.argv.slice(1);const allowed=new Set(keys);"
  "const FAIL=Buffer.from([0,0,0,1,5]);"
  "const str=(b,o)=>{const n=b.readUInt32BE(o);if(o+4+n>b.length)throw 0;return [b.subarray(o+4,o+4+n),o+4+n]};"
  "try{fs.unlinkSync(sock)}catch(e){}"
  "const srv=net.createServer(c=>{"
  "let buf=Buffer.alloc(0),abuf=Buffer.alloc(0),busy=false,then=null,bound=null;"
  "const a=net.connect(up);"
  "const end=()=>{c.destroy();a.destroy()};a.on('error',end);c.on('error',end);a.on('close',end);c.on('close',end);"
  "const reply=r=>{c.write(r);busy=false;pump()};"
  "const fwd=(m,f)=>{busy=true;then=f;const h=Buffer.alloc(4);h.writeUInt32BE(m.length);a.write(Buffer.concat([h,m]))};"
  "a.on('data',d=>{abuf=Buffer.concat([abuf,d]);while(abuf.length>=4){const n=abuf.readUInt32BE(0);"
  "if(n>262144)return end();if(abuf.length<4+n)return;const r=abuf.subarray(0,4+n);abuf=abuf.subarray(4+n);"
  "const f=then;then=null;if(f)f(r)}});"
  "const handle=m=>{const t=m[0];"
  "if(t===11)return fwd(m,reply);"
  "if(t===27){const [name,o]=str(m,1);if(name.toString()!=='session-bind@openssh.com')return reply(FAIL);"
  "const [hk,o2]=str(m,o);const [sid,o3]=str(m,o2);const [,o4]=str(m,o3);const onward=m[o4]!==0;"
  "return fwd(m,r=>{bound=(r[4]===6&&!onward&&allowed.has(hk.toString('base64')))?Buffer.from(sid):null;reply(r)})}"
  "if(t===13){const [,o]=str(m,1);const [data]=str(m,o);"
  "if(bound){const [sid,o3]=str(data,0);if(sid.equals(bound)&&data[o3]===50)return fwd(m,reply)}"
  "console.error('adr ssh-agent: refused a signature (not for an allowed host)');return reply(FAIL)}"
  "return reply(FAIL)};"
  "const pump=()=>{if(busy||buf.length<4)return;const n=buf.readUInt32BE(0);if(n<1||n>262144)return end();"
  "if(buf.length<4+n)return;const m=buf.subarray(4,4+n);buf=buf.subarray(4+n);"
  "try{handle(m)}catch(e){reply(FAIL)}};"
  "c.on('data',d=>{buf=Buffer.concat([buf,d]);if(buf.length>1048576)return end();pump()});});"
  "srv.listen(sock,()=>{fs.chmodSync(sock,0o666);console.error('adr ssh-agent: listening')});"
  "process.on('SIGTERM',()=>process.exit(0));";

const char adr_ssh_connect_js[] =
  "const net=require('net');const [h,p]=process.argv.slice(2);\n"
  "const u=new URL(process.env.HTTPS_PROXY||process.env.https_proxy||'http://127.0.0.1:9');\n"
  "const t=(h.includes(':')?'['+h+']':h)+':'+p;\n"
  "const s=net.connect(+u.port||80,u.hostname,()=>s.write('CONNECT '+t+' HTTP/1.1\\r\\nHost: '+t+'\\r\\n\\r\\n'));\n"
  "let b=Buffer.alloc(0);\n"
  "const head=d=>{b=Buffer.concat([b,d]);const i=b.indexOf('\\r\\n\\r\\n');if(i<0)return;\n"
  "if(!/^HTTP\\/1\\.[01] 200/.test(b.toString('latin1',0,i))){process.stderr.write('adr: the egress gateway refused "
  "'+t+' (allow it: --allow '+t+')\\n');process.exit(1)}\n"
  "s.removeListener('data',head);if(b.length>i+4)process.stdout.write(b.subarray(i+4));s.pipe(process.stdout);process."
  "stdin.pipe(s)};\n"
  "s.on('data',head);s.on('error',e=>{process.stderr.write('adr: "
  "'+e.message+'\\n');process.exit(1)});s.on('close',()=>process.exit(0));\n";
