"""dovecotconf.py - the configuration of a private Dovecot on 127.0.0.1,
shared by the plugin tests (tests/dovecot.py) and the benchmarks
(scripts/bench/benchimap.py).

Its own base_dir, state_dir, instance_name and log under tmp; plain-text
logins; a static passdb and userdb serving one unprivileged user whose
home is home (mail_location maildir:~/Maildir); imap only, on
127.0.0.1:port.
"""

CONFIG = """\
# private Dovecot for maildir-condstore ({purpose})
instance_name = {instance}
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_location = maildir:~/Maildir
{extra}passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service imap {{
{imap_service}}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
{plugin_block}"""


def config(purpose, instance, tmp, home, port, user, group, uid, gid,
           password, plugin_dir=None, mail_plugins="", plugin_settings=None,
           debug=False, vsz_limit=None, imap_service=""):
    """The text of dovecot.conf.  plugin_dir None: no plugin directory;
    mail_plugins: the plugins to load; plugin_settings: {name: value}
    for plugin {}; imap_service: lines inside service imap {}."""
    extra = ""
    if vsz_limit:
        extra += "default_vsz_limit = %s\n" % vsz_limit
    if plugin_dir:
        extra += "mail_plugin_dir = %s\n" % plugin_dir
    if mail_plugins:
        extra += "mail_plugins = $mail_plugins %s\n" % mail_plugins
    if debug:
        extra += "mail_debug = yes\n"
    extra += 'log_timestamp = "%Y-%m-%d %H:%M:%S "\n'
    plugin_block = ""
    if plugin_settings:
        plugin_block = "plugin {\n%s}\n" % "".join(
            "  %s = %s\n" % kv for kv in sorted(plugin_settings.items()))
    return CONFIG.format(purpose=purpose, instance=instance, tmp=tmp,
                         home=home, port=port, user=user, group=group,
                         uid=uid, gid=gid, password=password, extra=extra,
                         imap_service=imap_service,
                         plugin_block=plugin_block)
