# iscsi/scsi.mk: the SCSI device server, SCSI → NVMe translation (SBC-4,
# SPC-5, NVM Express SCSI Translation Reference). iscsi/local.mk declares
# the library; this fragment only adds its sources.
iscsi_libiscsitgt_a_SOURCES += \
	iscsi/scsi.h iscsi/scsi_internal.h \
	iscsi/scsi.c iscsi/scsi_sense.c iscsi/scsi_inquiry.c \
	iscsi/scsi_rw.c iscsi/scsi_misc.c
