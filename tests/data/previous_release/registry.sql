BEGIN TRANSACTION;
CREATE TABLE alias_stack (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
    version INTEGER NOT NULL, split TEXT);
INSERT INTO "alias_stack" VALUES(1,'m','production',1,NULL);
INSERT INTO "alias_stack" VALUES(2,'m','production',2,NULL);
CREATE TABLE aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, split TEXT, shadow INTEGER,
    PRIMARY KEY (name, alias));
INSERT INTO "aliases" VALUES('m','production',2,'{"2": 0.9, "3": 0.1}',1);
INSERT INTO "aliases" VALUES('other','staging',1,NULL,NULL);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, action TEXT NOT NULL,
    version INTEGER, alias TEXT, previous INTEGER, author TEXT NOT NULL, at REAL NOT NULL,
    detail TEXT NOT NULL);
INSERT INTO "audit" VALUES(1,'m','registered',1,NULL,NULL,'alice',1.7961888454488334656e+09,'{"sha256": "4dd5ff42f1083e6a31a8c3b9be40c8f3cb4fc84d87a365f2a8d0449e392c1270"}');
INSERT INTO "audit" VALUES(2,'m','registered',2,NULL,NULL,'alice',1.79618884548092937474e+09,'{"sha256": "117b827b370acd7d6428d751bb84e2baf7fa16b52bd985d8e4569a0221b474b7"}');
INSERT INTO "audit" VALUES(3,'m','registered',3,NULL,NULL,'alice',1.79618884551701378819e+09,'{"sha256": "a2d6cb49ac3dfb75b33a976e1216bf6c564ac616b5d0b37021ab9d4230e81aee"}');
INSERT INTO "audit" VALUES(4,'other','registered',1,NULL,NULL,'alice',1.79618884553656935694e+09,'{"sha256": "650d4e946a33a2eeb33f848aef5b42e5775d01a21c2ac4c8486db235356ab53e"}');
INSERT INTO "audit" VALUES(5,'m','aliased',1,'production',NULL,'alice',1.7961888455448803901e+09,'{}');
INSERT INTO "audit" VALUES(6,'m','aliased',2,'production',1,'alice',1.79618884554881501195e+09,'{}');
INSERT INTO "audit" VALUES(7,'m','split',2,'production',2,'alice',1.79618884554958820349e+09,'{"weights": {"2": 0.9, "3": 0.1}}');
INSERT INTO "audit" VALUES(8,'m','shadowed',1,'production',NULL,'alice',1.79618884555280184742e+09,'{}');
INSERT INTO "audit" VALUES(9,'other','aliased',1,'staging',NULL,'alice',1.79618884555686020854e+09,'{}');
INSERT INTO "audit" VALUES(10,'m','registered',4,NULL,NULL,'alice',1.79618884557252216343e+09,'{"sha256": "2ba6230b2b62092be3f14cfd1a08473806e81b2e14c47d3c8dd2bfc2878c91ab"}');
INSERT INTO "audit" VALUES(11,'m','archived',4,NULL,NULL,'alice',1.79618884558086776737e+09,'{}');
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO "meta" VALUES('generation',11);
INSERT INTO "meta" VALUES('schema',1);
CREATE TABLE models (
    name TEXT PRIMARY KEY, created_at REAL NOT NULL, next_version INTEGER NOT NULL);
INSERT INTO "models" VALUES('m',1.7961888454488334656e+09,5);
INSERT INTO "models" VALUES('other',1.79618884553656935694e+09,2);
CREATE TABLE serving_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
INSERT INTO "serving_api_keys" VALUES('9fbc3a62','ci','predictor','921f3bee0deffec4646aa4e3b3342e5e92066c245a19686319a2fac5a38b4dd1',1.79618884560880446438e+09,NULL);
INSERT INTO "serving_api_keys" VALUES('816b3fd0','old','admin','78d774fada65b413d8f9456fb5d1da70834f6e9617006fcec5954488c7a99678',1.79618884561528158183e+09,1.79618884562093329435e+09);
CREATE TABLE versions (
    name TEXT NOT NULL REFERENCES models(name), version INTEGER NOT NULL,
    sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    created_at REAL NOT NULL, author TEXT NOT NULL,
    metrics TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL, description TEXT NOT NULL,
    parent_name TEXT, parent_version INTEGER, signature TEXT, model_class TEXT NOT NULL,
    reference_sha256 TEXT, reference_size INTEGER, origin TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version));
INSERT INTO "versions" VALUES('m',1,'4dd5ff42f1083e6a31a8c3b9be40c8f3cb4fc84d87a365f2a8d0449e392c1270',976,1.7961888454488334656e+09,'alice','{"rmse": 1.0}','{}','{"seed": 0}','',NULL,NULL,'{"task": "regression", "n_features": 4, "feature_names": null, "dtype": "float64", "n_outputs": 4, "classes": null}','FakeModel','149cbc4d5a4e1ed62dc5413cc7a31058d273f2b4046bcbeba8a7e1cdedb3bbfa',4616,NULL,0);
INSERT INTO "versions" VALUES('m',2,'117b827b370acd7d6428d751bb84e2baf7fa16b52bd985d8e4569a0221b474b7',976,1.79618884548092937474e+09,'alice','{"rmse": 2.0}','{}','{"seed": 1}','',NULL,NULL,'{"task": "regression", "n_features": 4, "feature_names": null, "dtype": "float64", "n_outputs": 4, "classes": null}','FakeModel','a267cc1370a905779a8911de03c2f3be923f2e9878d33627221d6a5baeb7802e',4616,NULL,0);
INSERT INTO "versions" VALUES('m',3,'a2d6cb49ac3dfb75b33a976e1216bf6c564ac616b5d0b37021ab9d4230e81aee',976,1.79618884551701378819e+09,'alice','{"rmse": 3.0}','{}','{"seed": 2}','',NULL,NULL,'{"task": "regression", "n_features": 4, "feature_names": null, "dtype": "float64", "n_outputs": 4, "classes": null}','FakeModel','10bb730950eb54e67e3c3270ae25ddab93f7f23a46c0e62b1110647f8dcf3ecf',4616,NULL,0);
INSERT INTO "versions" VALUES('other',1,'650d4e946a33a2eeb33f848aef5b42e5775d01a21c2ac4c8486db235356ab53e',976,1.79618884553656935694e+09,'alice','{}','{}','{}','second model',NULL,NULL,'{"task": "regression", "n_features": 4, "feature_names": null, "dtype": "float64", "n_outputs": 4, "classes": null}','FakeModel',NULL,NULL,NULL,0);
INSERT INTO "versions" VALUES('m',4,'2ba6230b2b62092be3f14cfd1a08473806e81b2e14c47d3c8dd2bfc2878c91ab',976,1.79618884557252216343e+09,'alice','{}','{}','{}','',NULL,NULL,'{"task": "regression", "n_features": 4, "feature_names": null, "dtype": "float64", "n_outputs": 4, "classes": null}','FakeModel',NULL,NULL,NULL,1);
CREATE INDEX alias_stack_by_alias ON alias_stack (name, alias, id);
CREATE INDEX audit_by_name ON audit (name, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit',11);
INSERT INTO "sqlite_sequence" VALUES('alias_stack',2);
COMMIT;
