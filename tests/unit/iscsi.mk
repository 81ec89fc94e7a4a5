# tests/unit/iscsi.mk: iSCSI protocol leaf modules: PDU layouts, BHS checks,
# LUN/serial/digest helpers and builders; the text codec and key
# negotiation; MD5 and CHAP.
check_PROGRAMS += tests/unit/test_iscsi_pdu tests/unit/test_iscsi_params tests/unit/test_chap
TESTS += tests/unit/test_iscsi_pdu tests/unit/test_iscsi_params tests/unit/test_chap

tests_unit_test_iscsi_pdu_SOURCES = tests/unit/test_iscsi_pdu.c
tests_unit_test_iscsi_pdu_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_iscsi_pdu_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_iscsi_params_SOURCES = tests/unit/test_iscsi_params.c
tests_unit_test_iscsi_params_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_iscsi_params_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_chap_SOURCES = tests/unit/test_chap.c
tests_unit_test_chap_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_chap_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)

# The iscsi config section and the login layer (stages, CHAP, SendTargets).
check_PROGRAMS += tests/unit/test_iscsi_config tests/unit/test_iscsi_login
TESTS += tests/unit/test_iscsi_config tests/unit/test_iscsi_login

tests_unit_test_iscsi_config_SOURCES = tests/unit/test_iscsi_config.c
tests_unit_test_iscsi_config_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_iscsi_config_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)

tests_unit_test_iscsi_login_SOURCES = tests/unit/test_iscsi_login.c
tests_unit_test_iscsi_login_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_iscsi_login_LDADD = iscsi/libiscsitgt.a $(BRIDGE_LIBS) $(TEST_LIBS)
