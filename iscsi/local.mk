# iscsi/: the iSCSI target front end (libiscsitgt.a). So far its protocol
# leaf modules: PDUs, text codec, key negotiation, CHAP. MD5 (used only by
# CHAP) lives in bridge/ but is built here until the core needs it.
noinst_LIBRARIES += iscsi/libiscsitgt.a
iscsi_libiscsitgt_a_SOURCES = \
	iscsi/pdu.h iscsi/pdu.c \
	iscsi/text.h iscsi/text.c \
	iscsi/params.h iscsi/params.c \
	iscsi/chap.h iscsi/chap.c \
	bridge/md5.h bridge/md5.c
# The iscsi config section (bridge/config.h section hook) and the login
# layer (stages, CHAP, negotiation, SendTargets); transport-free.
iscsi_libiscsitgt_a_SOURCES += \
	iscsi/iscsi_config.h iscsi/iscsi_config.c \
	iscsi/login.h iscsi/login.c
