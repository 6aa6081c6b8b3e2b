// One-shot (service mongo-init, run by `mongosh --nodb`): as the root user
// on mongo1, initiates the three-member replica set rs0, waits for a
// primary, and creates the app's own user. Safe to run again: each step
// checks first. Passwords come from the environment, never argv.
db = new Mongo('mongodb://mongo1:27017/?directConnection=true').getDB('admin');
db.auth('root', process.env.MONGO_ROOT_PASSWORD);

const members = [
  { _id: 0, host: 'mongo1:27017', priority: 2 },
  { _id: 1, host: 'mongo2:27017', priority: 1 },
  { _id: 2, host: 'mongo3:27017', priority: 1 },
];

try {
  rs.status();
  print('mongo-init: replica set rs0 is already initiated');
} catch (e) {
  if (e.codeName !== 'NotYetInitialized') {
    throw e;
  }
  rs.initiate({ _id: 'rs0', members: members });
  print('mongo-init: initiated replica set rs0');
}

// mongo1 has the highest priority, so it becomes the primary.
let primary = false;
for (let i = 0; i < 120 && !primary; i++) {
  primary = db.hello().isWritablePrimary;
  if (!primary) {
    sleep(1000);
  }
}
if (!primary) {
  throw new Error('mongo-init: no primary after 120 s');
}
print('mongo-init: mongo1 is primary');

const appDatabase = process.env.MONGODB_DATABASE || 'twitterlogin';
const admin = db.getSiblingDB('admin');
if (admin.getUser('app') === null) {
  admin.createUser({
    user: 'app',
    pwd: process.env.MONGO_APP_PASSWORD,
    roles: [{ role: 'readWrite', db: appDatabase }],
    writeConcern: { w: 'majority' },
  });
  print('mongo-init: created user app (readWrite on ' + appDatabase + ')');
} else {
  admin.updateUser('app', { pwd: process.env.MONGO_APP_PASSWORD, roles: [{ role: 'readWrite', db: appDatabase }] });
  print('mongo-init: updated user app');
}
