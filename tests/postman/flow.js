// A small flow through the committed Postman collection (api/recur.postman_collection.json,
// generated from api/openapi.yaml by `make postman`), run with newman as a merchant would run
// it: create a product, a plan, a customer and a subscription, read the subscription back
// and list subscriptions. tests/postman/run.sh starts the server and runs this file.
//   node tests/postman/flow.js COLLECTION ENVIRONMENT
//   env: RECUR_POSTMAN_URL (the server's base URL), RECUR_POSTMAN_KEY (an admin API key)
//
// Each step is one newman run that selects one generated request by name (newman's
// --folder), with the committed environment file and baseUrl/apiKey given as --env-var.
// The generated requests are used as they are (URL, method, headers, the spec's example
// body, the collection's bearer auth); what a Postman user would type in by hand is done by
// collection-level scripts that the run adds around the collection read from the file (the
// file itself is not changed): the ids of what the previous steps created go into the body
// or the path, and each response's id goes into the environment, which the next step's run
// starts from.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const newman = require('newman');

const [collectionFile, environmentFile] = process.argv.slice(2);
const baseUrl = process.env.RECUR_POSTMAN_URL;
const apiKey = process.env.RECUR_POSTMAN_KEY;
if (!collectionFile || !environmentFile || !baseUrl || !apiKey) {
  console.error('usage: RECUR_POSTMAN_URL=... RECUR_POSTMAN_KEY=... node tests/postman/flow.js COLLECTION ENVIRONMENT');
  process.exit(2);
}
const collection = JSON.parse(fs.readFileSync(collectionFile, 'utf8'));

// The steps. `prerequest` and `test` run in Postman's sandbox (pm.*), as collection-level
// scripts of that step's run; they are written as functions here only to be read and linted
// as code, and are sent as their source text.
/* global pm */
const steps = [
  {
    request: 'Create a product',
    status: 201,
    // The spec's example body, but with stock not tracked: a tracked product needs stock
    // received before the first box of a subscription can be reserved (409 out_of_stock).
    prerequest: () => {
      const body = JSON.parse(pm.request.body.raw);
      body.track_inventory = false;
      pm.request.body.update(JSON.stringify(body, null, 2));
    },
    test: () => {
      const product = pm.response.json();
      pm.test('a product', () => {
        pm.expect(product.object).to.equal('product');
        pm.expect(product.id).to.match(/^prod_/);
      });
      pm.environment.set('productId', product.id);
    },
  },
  {
    request: 'Create a tier',
    status: 201,
    // The spec's example body, its extras the product just made (a fresh database: its rank is free).
    prerequest: () => {
      const body = JSON.parse(pm.request.body.raw);
      body.entitlements.extras = [{ product: pm.environment.get('productId'), quantity: 1 }];
      pm.request.body.update(JSON.stringify(body, null, 2));
    },
    test: () => {
      const tier = pm.response.json();
      pm.test('a tier', () => {
        pm.expect(tier.object).to.equal('tier');
        pm.expect(tier.id).to.match(/^tier_/);
      });
      pm.environment.set('tierId', tier.id);
    },
  },
  {
    request: 'Create a plan',
    status: 201,
    prerequest: () => {
      const body = JSON.parse(pm.request.body.raw);
      body.tier = pm.environment.get('tierId');
      body.items = body.items.map((item) => ({ ...item, product: pm.environment.get('productId') }));
      pm.request.body.update(JSON.stringify(body, null, 2));
    },
    test: () => {
      const plan = pm.response.json();
      pm.test('a plan with the product', () => {
        pm.expect(plan.object).to.equal('plan');
        pm.expect(plan.id).to.match(/^plan_/);
        pm.expect(plan.items.map((item) => item.product)).to.eql([pm.environment.get('productId')]);
        pm.expect(plan.tier).to.equal(pm.environment.get('tierId'));
      });
      pm.environment.set('planId', plan.id);
    },
  },
  {
    request: 'Create a customer',
    status: 201,
    test: () => {
      const customer = pm.response.json();
      pm.test('a customer', () => {
        pm.expect(customer.object).to.equal('customer');
        pm.expect(customer.id).to.match(/^cus_/);
      });
      pm.environment.set('customerId', customer.id);
    },
  },
  {
    request: 'Create a subscription',
    status: 201,
    prerequest: () => {
      const body = JSON.parse(pm.request.body.raw);
      body.customer = pm.environment.get('customerId');
      body.plan = pm.environment.get('planId');
      pm.request.body.update(JSON.stringify(body, null, 2));
    },
    test: () => {
      const subscription = pm.response.json();
      pm.test('a subscription of the customer to the plan', () => {
        pm.expect(subscription.object).to.equal('subscription');
        pm.expect(subscription.id).to.match(/^sub_/);
        pm.expect(subscription.customer).to.equal(pm.environment.get('customerId'));
        pm.expect(subscription.plan).to.equal(pm.environment.get('planId'));
      });
      pm.environment.set('subscriptionId', subscription.id);
    },
  },
  {
    request: 'Retrieve a subscription',
    status: 200,
    prerequest: () => {
      pm.request.url.variables.upsert({ key: 'id', value: pm.environment.get('subscriptionId') });
    },
    test: () => {
      const subscription = pm.response.json();
      pm.test('the subscription created, on the plan created', () => {
        pm.expect(subscription.id).to.equal(pm.environment.get('subscriptionId'));
        pm.expect(subscription.plan).to.equal(pm.environment.get('planId'));
        pm.expect(subscription.customer).to.equal(pm.environment.get('customerId'));
      });
    },
  },
  {
    request: 'List subscriptions',
    status: 200,
    test: () => {
      const page = pm.response.json();
      pm.test('a list holding the subscription', () => {
        pm.expect(page.object).to.equal('list');
        pm.expect(page.data.map((subscription) => subscription.id)).to.include(pm.environment.get('subscriptionId'));
      });
    },
  },
];

const script = (listen, source) => ({
  listen,
  script: { type: 'text/javascript', exec: [`(${source.toString()})();`] },
});

// One step: the collection read from the file plus this step's scripts, the one request
// selected by name; resolves to the environment the run ends with.
function runStep(step, environment) {
  const expected = step.status;
  const wrapper = { ...collection };
  wrapper.event = [
    ...(collection.event || []),
    ...(step.prerequest ? [script('prerequest', step.prerequest)] : []),
    script('test', `() => pm.test('HTTP ${expected}', () => {
      pm.expect(pm.response.code, \`HTTP \${pm.response.code} \${pm.response.text()}\`).to.equal(${expected});
    })`),
    ...(step.test ? [script('test', step.test)] : []),
  ];
  return new Promise((resolve, reject) => {
    newman.run({
      collection: wrapper,
      environment,
      folder: step.request,
      envVar: [
        { key: 'baseUrl', value: baseUrl },
        { key: 'apiKey', value: apiKey },
      ],
      timeoutRequest: 15000,
      reporters: ['cli'],
      reporter: { cli: { noBanner: true, noSummary: true } },
    }, (err, summary) => {
      if (err) return reject(new Error(`${step.request}: newman could not run: ${err.message}`));
      const { executions, failures } = summary.run;
      if (failures.length) {
        return reject(new Error(`${step.request}: ${failures.map((f) => `${f.error.name}: ${f.error.message}`).join('; ')}`));
      }
      try {
        assert.equal(executions.length, 1, `${step.request}: requests run`);
        assert.equal(executions[0].response && executions[0].response.code, expected, `${step.request}: HTTP status`);
      } catch (e) {
        return reject(e);
      }
      resolve(summary.environment);
    });
  });
}

(async () => {
  let environment = environmentFile; // the first run reads the file, as `newman run -e FILE`
  for (const step of steps) {
    console.log(`postman flow: ${step.request}`);
    environment = await runStep(step, environment);
  }
  const ids = ['productId', 'planId', 'customerId', 'subscriptionId'].map((key) => `${key}=${environment.get(key)}`);
  console.log(`postman flow: passed (${ids.join(', ')})`);
})().catch((e) => {
  console.error(`postman flow: FAILED: ${e.message}`);
  process.exit(1);
});
